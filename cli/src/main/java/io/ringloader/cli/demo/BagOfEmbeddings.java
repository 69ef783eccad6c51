package io.ringloader.cli.demo;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * A small sequence classifier: token embeddings, their mean over the sample's own tokens (the mask
 * leaves padding out), a dense layer and the class scores. Inputs: {@code tokens} {@code [batch, T]}
 * int32 and {@code tokens_mask} {@code [batch, T]} int8, as the loader pads them.
 */
final class BagOfEmbeddings extends AbstractBlock {
    private static final byte VERSION = 1;
    private final int dims;
    private final Parameter embedding;
    private final Block hidden, scores;

    BagOfEmbeddings(int vocabulary, int dims, int hiddenUnits, int classes) {
        super(VERSION);
        this.dims = dims;
        this.embedding = addParameter(Parameter.builder().setName("embedding").setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(vocabulary, dims)).build());
        this.hidden = addChildBlock("hidden", Linear.builder().setUnits(hiddenUnits).build());
        this.scores = addChildBlock("scores", Linear.builder().setUnits(classes).build());
    }

    @Override
    protected NDList forwardInternal(ParameterStore store, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray tokens = inputs.get(0);
        NDArray mask = inputs.get(1).toType(DataType.FLOAT32, false).expandDims(2);
        NDArray weight = store.getValue(embedding, tokens.getDevice(), training);
        NDArray embedded = Embedding.embedding(tokens, weight, SparseFormat.DENSE).head(); // [batch, T, dims]
        NDArray mean = embedded.mul(mask).sum(new int[] {1}).div(mask.sum(new int[] {1}).maximum(1f));
        NDList h = hidden.forward(store, new NDList(mean), training);
        return scores.forward(store, new NDList(Activation.relu(h.head())), training);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputs) {
        Shape pooled = new Shape(inputs[0].get(0), dims);
        return scores.getOutputShapes(hidden.getOutputShapes(new Shape[] {pooled}));
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape pooled = new Shape(inputShapes[0].get(0), dims);
        hidden.initialize(manager, dataType, pooled);
        scores.initialize(manager, dataType, hidden.getOutputShapes(new Shape[] {pooled}));
    }
}
