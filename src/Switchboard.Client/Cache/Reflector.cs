using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Switchboard.Client.Cache;

/// <summary>
/// Keeps a local cache of one resource collection in step with the API server: list, then watch from the list's
/// resourceVersion, re-watch after every normal close, relist on 410 Expired, back off on errors. Every change
/// is applied to <see cref="Store"/> and then reported to the handler, so the handler sees each change exactly once.
/// </summary>
public sealed class Reflector<T>
    where T : class, IKubernetesObject<V1ObjectMeta>
{
    private const string InitialEventsEndAnnotation = "k8s.io/initial-events-end";

    // client-go treats a watch that closes this fast with nothing in it as a failure, so a server that closes
    // every watch at once is not hammered in a tight loop.
    private static readonly TimeSpan ShortWatchThreshold = TimeSpan.FromSeconds(1);

    // The server ends a watch after timeoutSeconds; if it does not (a half-open connection), we cut it ourselves.
    private static readonly TimeSpan WatchDeadlineGrace = TimeSpan.FromSeconds(30);

    private readonly ListWatchClient<T> _client;
    private readonly ObjectStore<T> _store = new();
    private readonly IResourceEventHandler<T>? _handler;
    private readonly ReflectorOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly Backoff _backoff;
    private readonly string _resource;
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Func<T, T>? _transform;
    private string? _lastSyncResourceVersion;
    private bool _streamingList;
    private int _watchesSinceList;
    private int _started;

    /// <summary>Creates a reflector; nothing is sent until <see cref="RunAsync"/>.</summary>
    /// <param name="client">Shared KubernetesClient built from a kubeconfig or the in-cluster config (auth and TLS come from it).</param>
    /// <param name="request">Collection to list and watch.</param>
    /// <param name="handler">Receives adds, updates and deletes; null to only fill the store.</param>
    /// <param name="options">Paging, watch timeout and back-off settings; null for the defaults.</param>
    /// <param name="logger">Logger; null for none.</param>
    /// <param name="timeProvider">Clock for back-off and watch deadlines; null for <see cref="TimeProvider.System"/>.</param>
    /// <param name="random">Source of jitter; null for <see cref="Random.Shared"/>.</param>
    public Reflector(
        Kubernetes client,
        ResourceRequest request,
        IResourceEventHandler<T>? handler = null,
        ReflectorOptions? options = null,
        ILogger? logger = null,
        TimeProvider? timeProvider = null,
        Random? random = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        options ??= new ReflectorOptions();
        options.Validate();

        // Copy so a caller mutating its options object later cannot bypass validation.
        _options = new ReflectorOptions
        {
            PageSize = options.PageSize,
            MinWatchTimeout = options.MinWatchTimeout,
            MaxWatchTimeout = options.MaxWatchTimeout,
            InitialBackoff = options.InitialBackoff,
            MaxBackoff = options.MaxBackoff,
            UseStreamingList = options.UseStreamingList,
        };
        _client = new ListWatchClient<T>(client, request);
        _handler = handler;
        _logger = logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _random = random ?? Random.Shared;
        _backoff = new Backoff(_options.InitialBackoff, _options.MaxBackoff, _random);
        _resource = request.CollectionPath;
        _streamingList = _options.UseStreamingList;
    }

    /// <summary>The cache this reflector fills; after sync it equals the server's state as of <see cref="LastSyncResourceVersion"/>.</summary>
    public IObjectStore<T> Store => _store;

    /// <summary>True once the first full list has been applied to the store and reported to the handler.</summary>
    public bool HasSynced => _synced.Task.IsCompleted;

    /// <summary>resourceVersion of the last list, event or bookmark applied; opaque, compare for equality only.</summary>
    public string? LastSyncResourceVersion => Volatile.Read(ref _lastSyncResourceVersion);

    /// <summary>Completes when <see cref="HasSynced"/> becomes true.</summary>
    public Task WaitForSyncAsync(CancellationToken cancellationToken) => _synced.Task.WaitAsync(cancellationToken);

    /// <summary>
    /// Sets a function applied to every listed or watched object (not bookmarks) right after decoding, before it
    /// reaches the store or the handler (client-go's SetTransform): drop fields nobody reads so the cache keeps less.
    /// It may change the object in place and return it, or return a new one; it must keep the name, namespace and
    /// resourceVersion. Only before <see cref="RunAsync"/>; off by default.
    /// </summary>
    public void SetTransform(Func<T, T> transform)
    {
        ArgumentNullException.ThrowIfNull(transform);
        if (Volatile.Read(ref _started) != 0)
        {
            throw new InvalidOperationException("The transform must be set before the reflector runs.");
        }

        _transform = transform;
    }

    /// <summary>Lists and watches until cancelled (the task then ends as cancelled); errors are retried, never thrown.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("A reflector runs once; create another one to start over.");
        }

        var needsList = true;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Step step;
            if (needsList && !_streamingList)
            {
                step = await ListAsync(cancellationToken).ConfigureAwait(false);
            }
            else
            {
                step = await WatchAsync(streamingList: needsList, cancellationToken).ConfigureAwait(false);
            }

            needsList = step.NeedsList;
            if (step.Progress)
            {
                _backoff.Reset();
            }

            if (step.Failed)
            {
                var delay = _backoff.Next();
                if (step.Error is ApiStatusException { RetryAfter: { } retryAfter } && retryAfter > delay)
                {
                    // Honour the server's hint (429 priority-and-fairness, 503) but never wait longer than our cap.
                    delay = retryAfter < _options.MaxBackoff ? retryAfter : _options.MaxBackoff;
                }

                if (step.Error is null)
                {
                    ReflectorLog.ShortWatch(_logger, _resource, step.Events, delay);
                }
                else
                {
                    ReflectorLog.Failed(_logger, step.Error, _resource, step.Operation, delay);
                }

                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<Step> ListAsync(CancellationToken cancellationToken)
    {
        var items = new List<T>();
        string? continueToken = null;
        string? resourceVersion = null;
        var pages = 0;
        var restarted = false;
        try
        {
            while (true)
            {
                ListPage<T> page;
                try
                {
                    page = await _client.ListAsync(_options.PageSize, continueToken, cancellationToken).ConfigureAwait(false);
                }
                catch (ApiStatusException ex) when (ex.IsGone && continueToken is not null && !restarted)
                {
                    // The snapshot behind the token was compacted (paging took too long); a consistent list
                    // needs a new snapshot. Only once per attempt, so a server that always does this backs off.
                    ReflectorLog.ContinueExpired(_logger, _resource);
                    restarted = true;
                    items.Clear();
                    continueToken = null;
                    pages = 0;
                    continue;
                }

                pages++;
                if (_transform is { } transform)
                {
                    // Per page, so a big list never holds more than one page untrimmed.
                    foreach (var item in page.Items)
                    {
                        items.Add(Transformed(transform, item));
                    }
                }
                else
                {
                    items.AddRange(page.Items);
                }

                resourceVersion = page.ResourceVersion;
                continueToken = page.Continue;
                if (string.IsNullOrEmpty(continueToken))
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (IsRetryable(ex, cancellationToken))
        {
            return Step.Failure("list", ex, needsList: true, events: 0);
        }

        var changes = Replace(items, resourceVersion);
        ReflectorLog.Listed(_logger, _resource, items.Count, resourceVersion, pages, changes);
        MarkSynced();
        return new Step(NeedsList: false, Progress: false, Failed: false, Error: null, Operation: "list", Events: 0);
    }

    /// <summary>One watch request; with <paramref name="streamingList"/> its initial events replace the store first.</summary>
    private async Task<Step> WatchAsync(bool streamingList, CancellationToken cancellationToken)
    {
        var timeoutSeconds = RandomWatchTimeoutSeconds();
        var resourceVersion = streamingList ? null : LastSyncResourceVersion;
        var firstAfterList = _watchesSinceList++ == 0 && !streamingList;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds) + WatchDeadlineGrace, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var started = _time.GetTimestamp();
        var events = 0;

        // Streaming list: initial ADDED events gather here until the initial-events-end bookmark.
        Dictionary<string, T>? initial = streamingList ? new(StringComparer.Ordinal) : null;
        ReflectorLog.Watching(_logger, _resource, resourceVersion, timeoutSeconds, streamingList);
        try
        {
            await foreach (var e in _client.WatchAsync(resourceVersion, timeoutSeconds, streamingList, linked.Token).ConfigureAwait(false))
            {
                if (e.Type == WatchEventType.Error)
                {
                    throw ApiStatusException.FromStatus(e.Status);
                }

                events++;
                var obj = e.Object ?? throw new FormatException($"{e.Type} event without an object");
                if (e.Type != WatchEventType.Bookmark && _transform is { } transform)
                {
                    // Bookmarks carry only the resourceVersion and the initial-events-end annotation: never trimmed.
                    obj = Transformed(transform, obj);
                }
                if (initial is null)
                {
                    Apply(e.Type, obj);
                }
                else if (e.Type == WatchEventType.Bookmark)
                {
                    if (obj.Metadata?.Annotations?.TryGetValue(InitialEventsEndAnnotation, out var end) == true && end == "true")
                    {
                        var changes = Replace(initial.Values, obj.Metadata.ResourceVersion);
                        ReflectorLog.Listed(_logger, _resource, initial.Count, obj.Metadata.ResourceVersion, 0, changes);
                        MarkSynced();
                        initial = null;

                        // This stream is already the watch after the list; count it as such for the 410 guard.
                        _watchesSinceList = 1;
                    }
                }
                else if (e.Type == WatchEventType.Deleted)
                {
                    initial.Remove(ObjectStore<T>.KeyOf(obj));
                }
                else
                {
                    initial[ObjectStore<T>.KeyOf(obj)] = obj;
                }
            }
        }
        catch (ApiStatusException ex) when (ex.IsGone)
        {
            ReflectorLog.Expired(_logger, _resource, resourceVersion);

            // A relist is the cure, so do it at once — unless the watch right after a list is already expired,
            // which would loop list→watch→410 at full speed; then back off first.
            return firstAfterList && events == 0
                ? Step.Failure("watch", ex, needsList: true, events)
                : new Step(NeedsList: true, Progress: events > 0, Failed: false, Error: null, Operation: "watch", Events: events);
        }
        catch (ApiStatusException ex) when (initial is not null && ex.Code is 400 or 422)
        {
            // The server rejected sendInitialEvents (WatchList disabled or unknown): use paginated lists from now on.
            ReflectorLog.StreamingUnsupported(_logger, _resource, ex.Message);
            _streamingList = false;
            return new Step(NeedsList: true, Progress: false, Failed: false, Error: null, Operation: "watch", Events: events);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return Step.Failure("watch", new TimeoutException("the server did not end the watch by its timeoutSeconds", ex), initial is not null, events);
        }
        catch (Exception ex) when (IsRetryable(ex, cancellationToken))
        {
            return Step.Failure("watch", ex, needsList: initial is not null, events);
        }

        if (initial is not null)
        {
            // A server that ignores sendInitialEvents never sends the end bookmark; fall back instead of waiting forever.
            ReflectorLog.StreamingUnsupported(_logger, _resource, "watch ended before the initial-events-end bookmark");
            _streamingList = false;
            return new Step(NeedsList: true, Progress: false, Failed: false, Error: null, Operation: "watch", Events: events);
        }

        ReflectorLog.WatchClosed(_logger, _resource, events, LastSyncResourceVersion);
        var healthy = events > 0 || _time.GetElapsedTime(started) >= ShortWatchThreshold;
        return new Step(NeedsList: false, Progress: healthy, Failed: !healthy, Error: null, Operation: "watch", Events: events);
    }

    private void Apply(WatchEventType type, T obj)
    {
        var delta = type switch
        {
            WatchEventType.Added or WatchEventType.Modified => _store.Upsert(obj),
            WatchEventType.Deleted => _store.Remove(obj),
            _ => null, // BOOKMARK: the resourceVersion below is all it carries.
        };
        Volatile.Write(ref _lastSyncResourceVersion, obj.Metadata?.ResourceVersion ?? _lastSyncResourceVersion);
        if (type == WatchEventType.Bookmark)
        {
            ReflectorLog.Bookmark(_logger, _resource, _lastSyncResourceVersion);
        }

        if (delta is { } d)
        {
            Dispatch(d);
        }
    }

    private int Replace(IReadOnlyCollection<T> items, string? resourceVersion)
    {
        var deltas = _store.Replace(items);
        Volatile.Write(ref _lastSyncResourceVersion, resourceVersion);
        _watchesSinceList = 0;
        foreach (var delta in deltas)
        {
            Dispatch(delta);
        }

        return deltas.Count;
    }

    private static T Transformed(Func<T, T> transform, T obj) =>
        transform(obj) ?? throw new InvalidOperationException($"The informer transform returned null for {ObjectStore<T>.KeyOf(obj)}.");

    private void MarkSynced()
    {
        if (_synced.TrySetResult())
        {
            ReflectorLog.Synced(_logger, _resource);
        }
    }

    private void Dispatch(Delta<T> delta)
    {
        if (_handler is null)
        {
            return;
        }

        try
        {
            switch (delta.Kind)
            {
                case DeltaKind.Added:
                    _handler.OnAdd(delta.Object);
                    break;
                case DeltaKind.Updated:
                    _handler.OnUpdate(delta.Old!, delta.Object);
                    break;
                case DeltaKind.Deleted:
                    _handler.OnDelete(delta.Object);
                    break;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ReflectorLog.HandlerFailed(_logger, ex, _resource, delta.Kind, ObjectStore<T>.KeyOf(delta.Object));
        }
    }

    private int RandomWatchTimeoutSeconds()
    {
        var min = _options.MinWatchTimeout.TotalSeconds;
        var max = _options.MaxWatchTimeout.TotalSeconds;
        return (int)Math.Round(min + (_random.NextDouble() * (max - min)));
    }

    // Everything but our own cancellation is retried: the API server may be restarting, unreachable or overloaded.
    private static bool IsRetryable(Exception ex, CancellationToken cancellationToken) =>
        ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested;

    /// <summary>How one list or watch ended and what the loop does next.</summary>
    /// <param name="NeedsList">Next step is a (re)list rather than a watch from the last resourceVersion.</param>
    /// <param name="Progress">The watch was healthy; forget earlier failures.</param>
    /// <param name="Failed">Back off before the next step.</param>
    private readonly record struct Step(bool NeedsList, bool Progress, bool Failed, Exception? Error, string Operation, int Events)
    {
        public static Step Failure(string operation, Exception error, bool needsList, int events) =>
            new(needsList, Progress: events > 0, Failed: true, error, operation, events);
    }
}
