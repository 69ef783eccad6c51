package io.ringloader.worker;

import io.ringloader.data.Dataset;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.NotSerializableException;
import java.io.ObjectOutputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.constantpool.ClassEntry;
import java.lang.classfile.constantpool.PoolEntry;
import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A dataset as a recipe that travels to workers: checked for live resources, serialized, and shipped with
 * the bytes of every class a fresh JVM would not find on its class path (a class defined in a notebook
 * cell, say): PyTorch's spawn start method fails on exactly that case inside Jupyter.
 *
 * @param bytes   the serialized dataset
 * @param classes binary name to class-file bytes, for classes outside the application class path
 */
public record Recipe(byte[] bytes, Map<String, byte[]> classes) {

    /** Types of live resources that a recipe must not hold in a non-transient field, by class name. */
    private static final List<String> LIVE = List.of(
            "java.sql.Connection", "java.sql.Statement", "java.sql.ResultSet",
            "java.nio.channels.Channel", "java.net.Socket", "java.net.ServerSocket", "java.net.DatagramSocket",
            "java.net.http.HttpClient", "java.lang.Thread", "java.util.concurrent.Executor",
            "java.io.InputStream", "java.io.OutputStream", "java.io.Reader", "java.io.Writer",
            "java.lang.foreign.Arena", "org.apache.arrow.memory.BufferAllocator",
            "io.netty.channel.EventLoopGroup", "io.netty.channel.Channel", "ai.djl.ndarray.NDManager");

    /** The largest recipe: it is copied into every worker's shared memory and read by every worker JVM. */
    static final long MAX_BYTES = 1L << 30;

    /** Thrown by the recipe's stream past {@link #MAX_BYTES}, before the JVM's array limit is reached. */
    private static final class TooLarge extends RuntimeException {
        TooLarge() {
            super(null, null, false, false);
        }
    }

    /**
     * Checks {@code dataset} for live resources, serializes it and collects the classes to ship.
     *
     * @throws IllegalArgumentException naming the field that holds a live resource, or the class that
     *                                  cannot be serialized
     */
    public static Recipe of(Dataset dataset) {
        checkNoLiveResources(dataset);
        Map<String, byte[]> classes = new LinkedHashMap<>();
        ByteArrayOutputStream out = new ByteArrayOutputStream() {
            @Override
            public void write(byte[] b, int off, int len) {
                if (count + (long) len > MAX_BYTES) throw new TooLarge();
                super.write(b, off, len);
            }

            @Override
            public void write(int b) {
                if (count + 1L > MAX_BYTES) throw new TooLarge();
                super.write(b);
            }
        };
        try (ObjectOutputStream oos = new ObjectOutputStream(out) {
            @Override
            protected void annotateClass(Class<?> cl) {
                ship(cl, classes);
            }

            @Override
            protected void annotateProxyClass(Class<?> cl) {
                for (Class<?> i : cl.getInterfaces()) ship(i, classes);
            }
        }) {
            oos.writeObject(dataset);
        } catch (NotSerializableException e) {
            throw new IllegalArgumentException("the dataset " + dataset.getClass().getName() + " cannot travel to the workers: "
                    + e.getMessage() + " is not Serializable. A dataset is a recipe: keep in it only what describes the"
                    + " data (paths, queries, parameters), mark other fields transient, and create them in open(WorkerContext).", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("the dataset " + dataset.getClass().getName() + " cannot be serialized: " + e, e);
        } catch (TooLarge e) {
            throw new IllegalArgumentException("the dataset " + dataset.getClass().getName() + " serializes to more than " + (MAX_BYTES >> 20)
                    + " MB, and every worker gets a copy of its fields. A dataset is a recipe: keep the data in files or a"
                    + " database that open(WorkerContext) reads, and only their paths (and the query) in its fields.", e);
        }
        return new Recipe(out.toByteArray(), Map.copyOf(classes));
    }

    /** Recreates the dataset, defining shipped classes in a loader of their own. */
    Dataset open(ClassLoader loader) throws IOException, ClassNotFoundException {
        try (ClassLoaderObjectInputStream in = new ClassLoaderObjectInputStream(new ByteArrayInputStream(bytes), loader)) {
            return (Dataset) in.readObject();
        }
    }

    // ------------------------------------------------------------------------------ class shipping

    /** Whether a fresh JVM with our class path would load {@code cl} itself. */
    private static boolean onClassPath(Class<?> cl) {
        ClassLoader loader = cl.getClassLoader();
        if (loader == null || loader == ClassLoader.getPlatformClassLoader()) return true;
        try {
            return Class.forName(cl.getName(), false, ClassLoader.getSystemClassLoader()) == cl;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /** Adds {@code cl}'s bytes, and those of every class it names that comes from the same loader. */
    private static void ship(Class<?> root, Map<String, byte[]> classes) {
        while (root.isArray()) root = root.getComponentType();
        if (root.isPrimitive() || onClassPath(root) || classes.containsKey(root.getName())) return;
        ClassLoader loader = root.getClassLoader();
        ArrayDeque<String> todo = new ArrayDeque<>(List.of(root.getName()));
        while (!todo.isEmpty()) {
            String name = todo.poll();
            if (classes.containsKey(name)) continue;
            byte[] bytes = classBytes(loader, name);
            if (bytes == null) {
                if (name.equals(root.getName())) {
                    throw new IllegalArgumentException("class " + name + " is not on the workers' class path, and its loader ("
                            + loader + ") does not give its bytes to ship. Put it on the class path, or use numWorkers(0) or thread workers.");
                }
                continue; // a class of another loader, or one only named: the worker loads it itself
            }
            classes.put(name, bytes);
            for (PoolEntry e : ClassFile.of().parse(bytes).constantPool()) {
                if (!(e instanceof ClassEntry ce)) continue;
                String referenced = ce.asInternalName();
                if (referenced.startsWith("[")) continue;
                String binary = referenced.replace('/', '.');
                if (classes.containsKey(binary)) continue;
                try {
                    Class<?> c = Class.forName(binary, false, loader);
                    if (c.getClassLoader() == loader && !onClassPath(c)) todo.add(binary);
                } catch (ClassNotFoundException | LinkageError ignored) {
                    // not loadable here either: the worker will report it by name if it needs it
                }
            }
        }
    }

    private static byte[] classBytes(ClassLoader loader, String name) {
        try (InputStream in = loader.getResourceAsStream(name.replace('.', '/') + ".class")) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            return null;
        }
    }

    /** Defines shipped classes in a worker, asking the application class path first. */
    static final class ShippedClassLoader extends ClassLoader {
        private final Map<String, byte[]> classes;

        ShippedClassLoader(Map<String, byte[]> classes, ClassLoader parent) {
            super("ringloader-shipped", parent);
            this.classes = classes;
        }

        @Override
        protected Class<?> findClass(String name) throws ClassNotFoundException {
            byte[] bytes = classes.get(name);
            if (bytes == null) throw new ClassNotFoundException(name + " (neither on the worker's class path nor shipped by the parent)");
            return defineClass(name, bytes, 0, bytes.length);
        }
    }

    // ------------------------------------------------------------------------------ live resources

    /**
     * Walks the non-transient fields of {@code dataset} (and of the objects they hold, outside the JDK)
     * and fails on the first that holds a live resource, naming the field and its type.
     */
    static void checkNoLiveResources(Object dataset) {
        Set<Object> seen = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        walk(dataset, dataset.getClass().getSimpleName(), null, seen, 0);
    }

    /**
     * Fails if {@code o}, or anything it holds, is a live resource. {@code field} is the field {@code o} is
     * the value of ("declared T, in C"), or null for what a holder, collection or array holds: the path then
     * says where ("Leaky.connection.get()", "Leaky.pool[2]").
     */
    private static void walk(Object o, String path, String field, Set<Object> seen, int depth) {
        if (o == null || depth > 12 || !seen.add(o) || seen.size() > 100_000) return;
        Class<?> c = o.getClass();
        String live = depth == 0 ? null : liveType(c);
        if (live != null) {
            throw new IllegalArgumentException("dataset field '" + path + "'" + (field == null ? "" : " (" + field + ")")
                    + " holds a live " + live + " (" + c.getName() + "). A dataset is a recipe that travels to every worker;"
                    + " live resources do not travel. Mark the field transient and create it in open(WorkerContext), which runs in"
                    + " each worker; release it in close().");
        }
        if (c.isArray()) {
            if (c.getComponentType().isPrimitive()) return;
            int n = Math.min(Array.getLength(o), 1000);
            for (int i = 0; i < n; i++) walk(Array.get(o, i), path + "[" + i + "]", null, seen, depth + 1);
            return;
        }
        // The JDK's holders: their fields cannot be read from here, their contents can.
        switch (o) {
            case java.util.concurrent.atomic.AtomicReference<?> r -> walk(r.get(), path + ".get()", null, seen, depth + 1);
            case java.util.Optional<?> opt -> walk(opt.orElse(null), path + ".get()", null, seen, depth + 1);
            case java.util.concurrent.atomic.AtomicReferenceArray<?> a -> {
                for (int i = 0; i < Math.min(a.length(), 1000); i++) walk(a.get(i), path + "[" + i + "]", null, seen, depth + 1);
            }
            case Map.Entry<?, ?> e when c.getName().startsWith("java.") -> {
                walk(e.getKey(), path + ".getKey()", null, seen, depth + 1);
                walk(e.getValue(), path + ".getValue()", null, seen, depth + 1);
            }
            case Collection<?> coll when c.getName().startsWith("java.") -> {
                int i = 0;
                for (Object e : coll) {
                    if (i++ >= 1000) break;
                    walk(e, path + "[" + (i - 1) + "]", null, seen, depth + 1);
                }
            }
            case Map<?, ?> map when c.getName().startsWith("java.") -> {
                int i = 0;
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    if (i++ >= 1000) break;
                    walk(e.getKey(), path + ".key", null, seen, depth + 1);
                    walk(e.getValue(), path + "[" + e.getKey() + "]", null, seen, depth + 1);
                }
            }
            default -> walkFields(o, c, path, seen, depth);
        }
    }

    private static void walkFields(Object o, Class<?> c, String path, Set<Object> seen, int depth) {
        String module = c.getModule().isNamed() ? c.getModule().getName() : "";
        if (module.startsWith("java.") || module.startsWith("jdk.")) return;
        for (Class<?> k = c; k != null && k != Object.class; k = k.getSuperclass()) {
            for (Field f : k.getDeclaredFields()) {
                int mod = f.getModifiers();
                if (Modifier.isStatic(mod) || Modifier.isTransient(mod) || f.getType().isPrimitive()) continue;
                Object value;
                try {
                    f.setAccessible(true);
                    value = f.get(o);
                } catch (RuntimeException | IllegalAccessException e) {
                    continue; // a field we may not read: serialization will tell if it matters
                }
                walk(value, path + "." + f.getName(), "declared " + f.getType().getName() + ", in " + k.getName(), seen, depth + 1);
            }
        }
    }

    /** The live-resource type {@code c} is, or null. */
    private static String liveType(Class<?> c) {
        ArrayDeque<Class<?>> todo = new ArrayDeque<>();
        todo.add(c);
        while (!todo.isEmpty()) {
            Class<?> k = todo.poll();
            if (LIVE.contains(k.getName())) return k.getName();
            if (k.getSuperclass() != null) todo.add(k.getSuperclass());
            todo.addAll(List.of(k.getInterfaces()));
        }
        return null;
    }
}
