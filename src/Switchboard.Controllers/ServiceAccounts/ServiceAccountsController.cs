using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Switchboard.Client.Informers;
using Switchboard.Client.Queues;

namespace Switchboard.Controllers.ServiceAccounts;

/// <summary>
/// Upstream's serviceaccounts-controller (pkg/controller/serviceaccount): every active namespace has a
/// ServiceAccount named "default", created when the namespace appears and re-created when it is deleted. Pods
/// default to it, and the node agent mounts its token.
/// </summary>
internal sealed partial class ServiceAccountsController : IDisposable
{
    public const string DefaultName = "default";

    private readonly Kubernetes _client;
    private readonly SharedInformer<V1Namespace> _namespaces;
    private readonly SharedInformer<V1ServiceAccount> _accounts;
    private readonly RateLimitingQueue<string> _queue;
    private readonly ILogger _logger;
    private readonly List<IDisposable> _registrations = [];

    public ServiceAccountsController(SharedInformerFactory informers, Kubernetes client, ILoggerFactory loggers, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(informers);
        ArgumentNullException.ThrowIfNull(loggers);
        _client = client;
        _logger = loggers.CreateLogger<ServiceAccountsController>();
        _queue = new RateLimitingQueue<string>(time, RateLimiters.WithBase<string>(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(30), time));
        _namespaces = informers.Informer<V1Namespace>();
        _accounts = informers.Informer<V1ServiceAccount>();
        _registrations.Add(_namespaces.AddEventHandler(new ResourceEventHandler<V1Namespace>(n => _queue.Add(n.Metadata.Name), (_, n) => _queue.Add(n.Metadata.Name))));
        _registrations.Add(_accounts.AddEventHandler(new ResourceEventHandler<V1ServiceAccount>(onDelete: a =>
        {
            if (a.Metadata.Name == DefaultName)
            {
                _queue.Add(a.Metadata.NamespaceProperty);
            }
        })));
    }

    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            await Task.WhenAll(_namespaces.WaitForSyncAsync(ct), _accounts.WaitForSyncAsync(ct)).ConfigureAwait(false);
            await _queue.RunWorkersAsync(1, SyncAsync, Retry, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    public void Dispose()
    {
        foreach (var r in _registrations)
        {
            r.Dispose();
        }
        _queue.Dispose();
    }

    private async Task SyncAsync(string ns, CancellationToken ct)
    {
        if (!_namespaces.Lister.TryGet(null, ns, out var namespaceObj) || namespaceObj.Status?.Phase == "Terminating" || namespaceObj.Metadata.DeletionTimestamp is not null)
        {
            return;
        }
        if (_accounts.Lister.TryGet(ns, DefaultName, out _))
        {
            return;
        }
        try
        {
            await _client.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount
            {
                ApiVersion = "v1",
                Kind = "ServiceAccount",
                Metadata = new V1ObjectMeta { Name = DefaultName, NamespaceProperty = ns },
            }, ns, cancellationToken: ct).ConfigureAwait(false);
            Log.Created(_logger, ns);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.Forbidden or HttpStatusCode.NotFound)
        {
            // Exists already (the cache lagged), or the namespace is going away.
        }
    }

    private bool Retry(string key, Exception e)
    {
        Log.Failed(_logger, key, e.Message);
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "created the default ServiceAccount in {Namespace}")]
        public static partial void Created(ILogger logger, string @namespace);

        [LoggerMessage(Level = LogLevel.Warning, Message = "cannot ensure the default ServiceAccount in {Namespace}, retrying: {Error}")]
        public static partial void Failed(ILogger logger, string @namespace, string error);
    }
}
