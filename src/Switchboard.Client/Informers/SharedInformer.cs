using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Client.Cache;

namespace Switchboard.Client.Informers;

/// <summary>
/// One reflector shared by any number of consumers (client-go's SharedIndexInformer): one list+watch per
/// collection however many controllers read it, a lock-free <see cref="Store"/>, secondary indexes
/// (<see cref="Indexer"/>), a <see cref="Lister"/>, and fan-out of every change to each registered handler.
/// <para>
/// Delivery: changes are applied to the indexes, then handed to every handler in registration order, synchronously
/// on the reflector's loop, one change at a time. Handlers must be quick (enqueue a key) and must not throw: a
/// throwing handler is logged and skipped for that change, the others still get it. A handler registered after the
/// informer started first receives an add for every object already held (as client-go does), under the same lock
/// as live delivery, so it sees no change twice and misses none.
/// </para>
/// </summary>
public sealed partial class SharedInformer<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private readonly Reflector<T> _reflector;
    private readonly Indexer<T> _indexer = new();
    private readonly Lock _dispatchLock = new();
    private readonly ILogger _logger;
    private readonly string _resource;
    private IResourceEventHandler<T>[] _handlers = [];
    private int _started;

    /// <summary>Creates an informer; usually obtained from <see cref="SharedInformerFactory"/> so it is shared.</summary>
    public SharedInformer(Kubernetes client, ResourceRequest request, ReflectorOptions? options = null, ILogger? logger = null, TimeProvider? timeProvider = null, Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        _logger = logger ?? NullLogger.Instance;
        Request = request;
        _resource = request.CollectionPath;
        _reflector = new Reflector<T>(client, request, new Dispatcher(this), options, _logger, timeProvider, random);
        _indexer.TryAddIndex(Indexers.Namespace, Indexers.ByNamespace);
        Lister = new Lister<T>(_reflector.Store, _indexer);
    }

    /// <summary>What this informer lists and watches.</summary>
    public ResourceRequest Request { get; }

    /// <summary>The reflector's cache: lock-free point reads and snapshots.</summary>
    public IObjectStore<T> Store => _reflector.Store;

    /// <summary>Secondary indexes, updated before handlers are called.</summary>
    public Indexer<T> Indexer => _indexer;

    /// <summary>Reads by key, namespace and label selector.</summary>
    public Lister<T> Lister { get; }

    /// <summary>True once the first list has been applied and delivered to the handlers.</summary>
    public bool HasSynced => _reflector.HasSynced;

    /// <summary>True once <see cref="RunAsync"/> has been called.</summary>
    public bool IsStarted => Volatile.Read(ref _started) != 0;

    /// <summary>resourceVersion of the last change applied.</summary>
    public string? LastSyncResourceVersion => _reflector.LastSyncResourceVersion;

    /// <summary>Completes when <see cref="HasSynced"/> turns true.</summary>
    public Task WaitForSyncAsync(CancellationToken cancellationToken) => _reflector.WaitForSyncAsync(cancellationToken);

    /// <summary>
    /// Adds an index. Indexes are meant to be declared before start (like client-go); one added later is built from
    /// the objects held. A name already registered is kept as is, so consumers can share well-known indexes.
    /// </summary>
    public void AddIndex(string indexName, IndexFunc<T> indexFunc)
    {
        ArgumentException.ThrowIfNullOrEmpty(indexName);
        ArgumentNullException.ThrowIfNull(indexFunc);
        lock (_dispatchLock)
        {
            _indexer.TryAddIndex(indexName, indexFunc);
        }
    }

    /// <summary>
    /// Sets a function applied to each object at decode time, before the store, indexes and handlers see it
    /// (client-go's SetTransform), e.g. to drop managedFields and annotations this process never reads. Every
    /// consumer of a shared informer sees the trimmed objects, so only the owner of a private factory should set
    /// it. Only before the informer starts; off by default.
    /// </summary>
    public void SetTransform(Func<T, T> transform)
    {
        if (IsStarted)
        {
            throw new InvalidOperationException("The transform must be set before the informer starts.");
        }

        _reflector.SetTransform(transform);
    }

    /// <summary>Registers a handler; dispose the result to unregister. Objects already held are replayed as adds.</summary>
    public IDisposable AddEventHandler(IResourceEventHandler<T> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_dispatchLock)
        {
            foreach (var obj in _indexer.All())
            {
                Deliver(handler, DeltaKind.Added, null, obj);
            }
            _handlers = [.. _handlers, handler];
        }
        return new Registration(this, handler);
    }

    /// <summary>Lists and watches until cancelled (then ends as cancelled); errors are retried, never thrown.</summary>
    public Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("An informer runs once.");
        }
        return _reflector.RunAsync(cancellationToken);
    }

    private void Remove(IResourceEventHandler<T> handler)
    {
        lock (_dispatchLock)
        {
            _handlers = [.. _handlers.Where(h => !ReferenceEquals(h, handler))];
        }
    }

    private void Dispatch(DeltaKind kind, T? old, T obj)
    {
        lock (_dispatchLock)
        {
            if (kind == DeltaKind.Deleted)
            {
                _indexer.Remove(obj);
            }
            else
            {
                _indexer.Upsert(obj);
            }
            foreach (var handler in _handlers)
            {
                Deliver(handler, kind, old, obj);
            }
        }
    }

    private void Deliver(IResourceEventHandler<T> handler, DeltaKind kind, T? old, T obj)
    {
        try
        {
            switch (kind)
            {
                case DeltaKind.Added:
                    handler.OnAdd(obj);
                    break;
                case DeltaKind.Updated:
                    handler.OnUpdate(old!, obj);
                    break;
                default:
                    handler.OnDelete(obj);
                    break;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Log.HandlerFailed(_logger, ex, _resource, kind, ObjectStore<T>.KeyOf(obj));
        }
    }

    /// <summary>The reflector's only handler; keeps the informer's OnAdd/OnUpdate/OnDelete off its public surface.</summary>
    private sealed class Dispatcher(SharedInformer<T> informer) : IResourceEventHandler<T>
    {
        public void OnAdd(T obj) => informer.Dispatch(DeltaKind.Added, null, obj);

        public void OnUpdate(T oldObj, T newObj) => informer.Dispatch(DeltaKind.Updated, oldObj, newObj);

        public void OnDelete(T obj) => informer.Dispatch(DeltaKind.Deleted, null, obj);
    }

    private sealed class Registration(SharedInformer<T> informer, IResourceEventHandler<T> handler) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                informer.Remove(handler);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Informer for {Resource}: event handler threw on {Kind} of {Key}")]
        public static partial void HandlerFailed(ILogger logger, Exception exception, string resource, DeltaKind kind, string key);
    }
}
