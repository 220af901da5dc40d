using System.Text.Json;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Api.Resources;
using Switchboard.Client;
using Switchboard.Client.Cache;
using Switchboard.Core.Queues;

namespace Switchboard.Controllers.Namespaces;

/// <summary>
/// Upstream's namespace controller: a Namespace with a deletionTimestamp has every namespaced object in it
/// deleted (deletecollection per resource), and once nothing is left its `kubernetes` finalizer is removed
/// through /finalize, so the API server deletes it. Objects held by finalizers or grace periods keep it
/// Terminating until they are gone; the controller rechecks with back-off.
/// </summary>
internal sealed partial class NamespaceController : IResourceEventHandler<V1Namespace>, IDisposable
{
    private const string Finalizer = "kubernetes";

    private readonly Kubernetes _client;
    private readonly ResourceCatalog _catalog;
    private readonly Reflector<V1Namespace> _reflector;
    private readonly WorkQueue<string> _queue;
    private readonly ILogger _logger;

    public NamespaceController(Kubernetes client, ResourceCatalog catalog, ILoggerFactory loggers, TimeProvider time)
    {
        _client = client;
        _catalog = catalog;
        _logger = loggers.CreateLogger<NamespaceController>();
        _queue = new WorkQueue<string>(time, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30));
        _reflector = new Reflector<V1Namespace>(client, ResourceRequest.For<V1Namespace>(), this, logger: _logger, timeProvider: time);
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var reflector = _reflector.RunAsync(ct);
        try
        {
            await _reflector.WaitForSyncAsync(ct).ConfigureAwait(false);
            while (true)
            {
                var (ok, name) = await _queue.TryTakeAsync(ct).ConfigureAwait(false);
                if (!ok)
                {
                    break;
                }
                try
                {
                    if (await SyncAsync(name, ct).ConfigureAwait(false))
                    {
                        _queue.Forget(name);
                    }
                    else
                    {
                        _queue.AddRateLimited(name);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or JsonException or InvalidOperationException or k8s.Autorest.HttpOperationException)
                {
                    Log.SyncFailed(_logger, name, e);
                    _queue.AddRateLimited(name);
                }
                finally
                {
                    _queue.Done(name);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            _queue.ShutDown();
            try
            {
                await reflector.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    public void Dispose() => _queue.Dispose();

    public void OnAdd(V1Namespace obj) => Enqueue(obj);

    public void OnUpdate(V1Namespace oldObj, V1Namespace newObj) => Enqueue(newObj);

    public void OnDelete(V1Namespace obj)
    {
    }

    private void Enqueue(V1Namespace ns)
    {
        if (ns.Metadata.DeletionTimestamp is not null)
        {
            _queue.Add(ns.Metadata.Name);
        }
    }

    /// <summary>Returns true when the namespace is finished (finalized or gone), false to retry later.</summary>
    private async Task<bool> SyncAsync(string name, CancellationToken ct)
    {
        if (!_reflector.Store.TryGet(null, name, out var ns) || ns.Metadata.DeletionTimestamp is null)
        {
            return true;
        }
        if (ns.Spec?.Finalizers is not { } finalizers || !finalizers.Contains(Finalizer))
        {
            return true;
        }

        var remaining = 0;
        foreach (var r in _catalog.All.Where(r => r.Namespaced))
        {
            var path = CollectionPath(r, name);
            var deleted = await RawApi.SendAsync(_client, HttpMethod.Delete, path, "{\"propagationPolicy\":\"Background\"}", cancellationToken: ct).ConfigureAwait(false);
            if (!deleted.IsSuccess && deleted.StatusCode != 404)
            {
                Log.DeleteFailed(_logger, name, r.Plural, deleted.StatusCode);
                remaining++;
                continue;
            }
            var list = await RawApi.SendAsync(_client, HttpMethod.Get, path + "?limit=1", cancellationToken: ct).ConfigureAwait(false);
            if (list.IsSuccess)
            {
                using var doc = JsonDocument.Parse(list.Body);
                remaining += doc.RootElement.TryGetProperty("items", out var items) ? items.GetArrayLength() : 0;
            }
        }
        if (remaining > 0)
        {
            Log.Waiting(_logger, name, remaining);
            return false;
        }

        ns.Spec.Finalizers = [.. finalizers.Where(f => f != Finalizer)];
        var body = KubernetesJson.Serialize(ns);
        var finalized = await RawApi.SendAsync(_client, HttpMethod.Put, $"api/v1/namespaces/{Uri.EscapeDataString(name)}/finalize", body, cancellationToken: ct).ConfigureAwait(false);
        if (finalized.IsSuccess || finalized.StatusCode == 404)
        {
            Log.Finalized(_logger, name);
            return true;
        }
        Log.FinalizeFailed(_logger, name, finalized.StatusCode, finalized.Body);
        return false;
    }

    private static string CollectionPath(ResourceInfo r, string ns) =>
        (r.Group.Length == 0 ? "api/" : "apis/" + r.Group + "/") + r.Version + "/namespaces/" + Uri.EscapeDataString(ns) + "/" + r.Plural;

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Warning, Message = "namespace {Namespace}: sync failed")]
        public static partial void SyncFailed(ILogger logger, string @namespace, Exception error);

        [LoggerMessage(Level = LogLevel.Warning, Message = "namespace {Namespace}: deleting {Resource} failed with HTTP {Code}")]
        public static partial void DeleteFailed(ILogger logger, string @namespace, string resource, int code);

        [LoggerMessage(Level = LogLevel.Information, Message = "namespace {Namespace}: waiting for {Remaining} resource kinds to empty")]
        public static partial void Waiting(ILogger logger, string @namespace, int remaining);

        [LoggerMessage(Level = LogLevel.Information, Message = "namespace {Namespace}: finalized")]
        public static partial void Finalized(ILogger logger, string @namespace);

        [LoggerMessage(Level = LogLevel.Warning, Message = "namespace {Namespace}: finalize failed with HTTP {Code}: {Body}")]
        public static partial void FinalizeFailed(ILogger logger, string @namespace, int code, string body);
    }
}
