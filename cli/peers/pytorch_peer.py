#!/usr/bin/env python3
"""PyTorch DataLoader on the workloads of docs/benchmarks.md: the peer of `ringloader bench --compare`.

Runs with Debian's python3-torch (apt-get install python3-torch python3-numpy),
through /usr/bin/python3. Prints one JSON object a line.

usage: pytorch_peer.py [--workloads tiny,wide,cpu,wide-long,cpu-long,seq,startup] [--workers 0,1,2]
                       [--context fork|spawn|forkserver]

`startup` runs once for every worker count of --workers above 0.
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

M64 = (1 << 64) - 1
CPU_SAMPLES = 512
# cpu-long in pure Python (about 25 ms a sample): 131,072 samples would take an hour an epoch; 1,024
# give epochs of about 25 s with one worker, long enough for its scaling, which is what it compares.
CPU_LONG_SAMPLES = 1_024


class Tiny(Dataset):
    def __len__(self):
        return 262_144

    def __getitem__(self, i):
        j = np.arange(16)
        f = (((i * 31 + j) % 1000) / 1000).astype(np.float32)
        return f, i % 10


class Wide(Dataset):
    def __init__(self, size=2_048):
        self.size = size

    def __len__(self):
        return self.size

    def __getitem__(self, i):
        return np.full(3 * 224 * 224, (i % 251) / 251, dtype=np.float32), i % 1000


def cpu_kernel(i):
    x = ((i + 1) * 0x9E3779B97F4A7C15) & M64
    for _ in range(20_000):
        x ^= (x << 13) & M64
        x ^= x >> 7
        x ^= (x << 17) & M64
    return np.array([((x >> (j % 64)) & 0xFFFF) / 65535 for j in range(64)], dtype=np.float32)


class Cpu(Dataset):
    # Pure-Python kernel is ~100x slower than the JVM's; only the first
    # CPU_SAMPLES samples are used so a run ends in minutes. Compare this
    # workload by scaling (rate with 2 workers / rate with 1), not by rate.
    def __init__(self, size=CPU_SAMPLES):
        self.size = size

    def __len__(self):
        return self.size

    def __getitem__(self, i):
        return cpu_kernel(i), i % 10


SEQ_SAMPLES = 65_536


def seq_tokens(i):
    """8 * 2^(8u), u uniform in [0, 1) from the index: log-uniform in [8, 2048), as Workloads.Sequences."""
    u = (((i * 0x9E3779B97F4A7C15) & M64) >> 11) / float(1 << 53)
    return int(8 * 2 ** (8 * u))


class Sequences(Dataset):
    def __len__(self):
        return SEQ_SAMPLES

    def __getitem__(self, i):
        n = seq_tokens(i)
        return torch.remainder(i * 31 + torch.arange(n, dtype=torch.int64), 30_000).to(torch.int32), i % 2


def pad_collate(batch):
    """The collate_fn PyTorch users write for sequences: pad to the batch's longest, with the lengths."""
    seqs = [s for s, _ in batch]
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int32)
    padded = torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=0)
    return padded, lengths, torch.tensor([y for _, y in batch])


class BucketBatches(torch.utils.data.Sampler):
    """The "sortish" bucketing PyTorch users add from other packages (torchnlp's BucketBatchSampler,
    fairseq): each epoch, shuffle, sort pools of 50 batches by length, cut them into batches of 32,
    shuffle the batches. Lengths from the index, without reading a sample, as ringloader's
    bucketByLength(32) reads them from MapDataset.length."""

    def __init__(self, n, batch=32, pool_batches=50, seed=42):
        self.n, self.batch, self.pool, self.g = n, batch, batch * pool_batches, torch.Generator()
        self.g.manual_seed(seed)

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.g).tolist()
        batches = []
        for start in range(0, self.n, self.pool):
            pool = sorted(order[start:start + self.pool], key=seq_tokens)
            batches += [pool[b:b + self.batch] for b in range(0, len(pool), self.batch)]
        for k in torch.randperm(len(batches), generator=self.g).tolist():
            yield batches[k]

    def __len__(self):
        return sum((min(self.pool, self.n - s) + self.batch - 1) // self.batch for s in range(0, self.n, self.pool))


def run_seq(workers, context, batching="fixed"):
    g = torch.Generator()
    g.manual_seed(42)
    if batching == "bucketed":
        kw = dict(batch_sampler=BucketBatches(SEQ_SAMPLES), num_workers=workers, collate_fn=pad_collate)
    else:
        kw = dict(batch_size=32, shuffle=True, generator=g, num_workers=workers, collate_fn=pad_collate)
    if workers > 0:
        kw.update(multiprocessing_context=context, persistent_workers=True, prefetch_factor=2)
    dl = DataLoader(Sequences(), **kw)
    rates = []
    for _ in range(2):  # epoch 1 warms up, epoch 2 is timed
        tokens = padded = 0
        t0 = time.perf_counter()
        for x, lengths, _ in dl:
            tokens += int(lengths.sum())
            padded += x.numel()
        rates.append((tokens / (time.perf_counter() - t0), padded, tokens))
    (r1, _, _), (r2, p2, t2) = rates
    return {"impl": f"pytorch-{context}" if workers else "pytorch", "workload": "seq", "batching": batching, "workers": workers,
            "tokens_per_s": round(r2), "padding_share": round(1 - t2 / p2, 4), "epoch1_tokens_per_s": round(r1)}


DATASETS = {"tiny": (Tiny, 256), "wide": (Wide, 32), "cpu": (Cpu, 64),
            "wide-long": (lambda: Wide(16_384), 32), "cpu-long": (lambda: Cpu(CPU_LONG_SAMPLES), 64)}


def loader(name, workers, context, persistent=True, shuffle=True):
    cls, batch = DATASETS[name]
    g = torch.Generator()
    g.manual_seed(42)
    kw = dict(batch_size=batch, shuffle=shuffle, generator=g, num_workers=workers)
    if workers > 0:
        kw.update(multiprocessing_context=context, persistent_workers=persistent, prefetch_factor=2)
    return DataLoader(cls(), **kw)


def consume(name, batch):
    data, label = batch
    s = int(label.sum())
    if name.startswith("wide"):
        flat = data.reshape(-1)
        s += float(flat[::1024].sum())  # one float per 4096-byte page
    return s


def epoch(name, dl):
    n = 0
    t0 = time.perf_counter()
    for b in dl:
        consume(name, b)
        n += len(b[1])
    return n, time.perf_counter() - t0


def run_throughput(name, workers, context):
    dl = loader(name, workers, context)
    n1, dt1 = epoch(name, dl)  # warm-up, workers stay up; its rate is reported beside the timed epoch's
    n, dt = epoch(name, dl)
    out = {"impl": f"pytorch-{context}" if workers else "pytorch", "workload": name,
           "workers": workers, "samples_per_s": round(n / dt, 1), "epoch1_samples_per_s": round(n1 / dt1, 1)}
    if name.startswith("wide"):
        out["gb_per_s"] = round(n * 3 * 224 * 224 * 4 / dt / 1e9, 3)
        out["epoch1_gb_per_s"] = round(n1 * 3 * 224 * 224 * 4 / dt1 / 1e9, 3)
    del dl
    return out


def run_startup(context, workers=2):
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        dl = loader("tiny", workers, context, persistent=False, shuffle=False)
        it = iter(dl)
        next(it)
        times.append((time.perf_counter() - t0) * 1000)
        del it, dl
    return {"impl": f"pytorch-{context}", "workload": "startup", "workers": workers,
            "ms": round(statistics.median(times), 1)}


def run_memcpy(name):
    src = np.ones(32 * 3 * 224 * 224, dtype=np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    reps = 50
    t0 = time.perf_counter()
    for _ in range(reps):
        np.copyto(dst, src)
    dt = time.perf_counter() - t0
    return {"impl": "memcpy-numpy", "workload": name, "workers": 0,
            "gb_per_s": round(reps * src.nbytes / dt / 1e9, 3)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workloads", default="tiny,wide,cpu,wide-long,cpu-long,startup")
    ap.add_argument("--workers", default="0,1,2")
    ap.add_argument("--context", default="fork")
    a = ap.parse_args()
    torch.set_num_threads(1)
    for name in a.workloads.split(","):
        if name == "seq":
            for batching in ("fixed", "bucketed"):
                for w in (int(x) for x in a.workers.split(",")):
                    print(json.dumps(run_seq(w, a.context, batching)), flush=True)
            continue
        if name == "startup":
            for w in (int(x) for x in a.workers.split(",")):
                if w > 0:
                    print(json.dumps(run_startup(a.context, w)), flush=True)
            continue
        if name.startswith("wide"):
            print(json.dumps(run_memcpy(name)), flush=True)
        for w in (int(x) for x in a.workers.split(",")):
            print(json.dumps(run_throughput(name, w, a.context)), flush=True)


if __name__ == "__main__":
    main()
