using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.Client.Cache;

namespace Switchboard.Client.Informers;

/// <summary>
/// Hands out one <see cref="SharedInformer{T}"/> per (kind, request), so every controller in a process shares one
/// list+watch and one cache per collection (client-go's SharedInformerFactory). Ask for informers and register
/// handlers and indexes first, then <see cref="Start"/> (or <see cref="RunAsync"/>); informers asked for later
/// start on the next <see cref="Start"/>.
/// </summary>
public sealed class SharedInformerFactory : IDisposable
{
    private readonly Kubernetes _client;
    private readonly ILoggerFactory _loggers;
    private readonly TimeProvider _time;
    private readonly ReflectorOptions? _options;
    private readonly Lock _lock = new();
    private readonly Dictionary<(Type, ResourceRequest), Entry> _informers = [];
    private readonly List<Task> _running = [];
    private readonly CancellationTokenSource _stop = new();

    public SharedInformerFactory(Kubernetes client, ILoggerFactory? loggers = null, TimeProvider? timeProvider = null, ReflectorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        _loggers = loggers ?? NullLoggerFactory.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _options = options;
    }

    /// <summary>The informer for every object of a kind (all namespaces).</summary>
    public SharedInformer<T> Informer<T>()
        where T : class, IKubernetesObject<V1ObjectMeta> => Informer<T>(ResourceRequest.For<T>());

    /// <summary>The informer for one collection; equal requests share one informer.</summary>
    public SharedInformer<T> Informer<T>(ResourceRequest request)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        ArgumentNullException.ThrowIfNull(request);
        lock (_lock)
        {
            if (_informers.TryGetValue((typeof(T), request), out var existing))
            {
                return (SharedInformer<T>)existing.Informer;
            }
            var logger = _loggers.CreateLogger("Switchboard.Client.Informers." + typeof(T).Name);
            var informer = new SharedInformer<T>(_client, request, _options, logger, _time);
            _informers[(typeof(T), request)] = new Entry(informer, informer.RunAsync, informer.WaitForSyncAsync);
            return informer;
        }
    }

    /// <summary>Starts every informer not yet started; they run until <paramref name="cancellationToken"/> or disposal.</summary>
    public void Start(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
            foreach (var entry in _informers.Values.Where(e => !e.Started))
            {
                entry.Started = true;
                _running.Add(RunOneAsync(entry, cancellationToken));
            }
        }
    }

    /// <summary>Starts the informers and completes once all of them have stopped (cancellation is a normal end).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Start(cancellationToken);
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        Task[] running;
        lock (_lock)
        {
            running = [.. _running];
        }
        await Task.WhenAll(running).ConfigureAwait(false);
    }

    /// <summary>Completes when every started informer has synced.</summary>
    public Task WaitForCacheSyncAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.WhenAll(_informers.Values.Where(e => e.Started).Select(e => e.WaitForSync(cancellationToken)));
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_stop.IsCancellationRequested)
            {
                return;
            }
            _stop.Cancel();
        }
        _stop.Dispose();
    }

    private async Task RunOneAsync(Entry entry, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        try
        {
            await entry.Run(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The normal end of an informer.
        }
    }

    private sealed class Entry(object informer, Func<CancellationToken, Task> run, Func<CancellationToken, Task> waitForSync)
    {
        public object Informer { get; } = informer;

        public Func<CancellationToken, Task> Run { get; } = run;

        public Func<CancellationToken, Task> WaitForSync { get; } = waitForSync;

        public bool Started { get; set; }
    }
}
