using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Switchboard.Api.Resources;
using Switchboard.Api.Schema;
using Switchboard.ApiServer.Bootstrap;
using Switchboard.ApiServer.Discovery;
using Switchboard.ApiServer.Http;
using Switchboard.ApiServer.Metrics;
using Switchboard.ApiServer.Proxy;
using Switchboard.ApiServer.Registry;
using Switchboard.ApiServer.Registry.Strategies;
using Switchboard.ApiServer.Security;
using Switchboard.ApiServer.Watch;
using Switchboard.Store;

namespace Switchboard.ApiServer.Hosting;

/// <summary>
/// The running API server: store, PKI, registry and the HTTPS endpoint, started as one unit.
/// `switchboard server` and `switchboard up` run it; tests start it in-process on port 0.
/// </summary>
public sealed partial class ApiServerHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly IStore _store;
    private readonly Pki _pki;
    private readonly CancellationTokenSource _stopping;
    private PodStreamProxy? _podProxy;

    private ApiServerHost(WebApplication app, IStore store, Pki pki, Uri url, string kubeconfigPath, CancellationTokenSource stopping, WatchStreamer watches)
    {
        Watches = watches;
        _app = app;
        _stopping = stopping;
        _store = store;
        _pki = pki;
        Url = url;
        KubeconfigPath = kubeconfigPath;
    }

    /// <summary>https://127.0.0.1:port with the real port.</summary>
    public Uri Url { get; }

    public int Port => Url.Port;

    public string KubeconfigPath { get; }

    public string AdminToken => _pki.AdminToken;

    public string CaPem => _pki.CaPem;

    public Pki Pki => _pki;

    /// <summary>The store behind the API (tests compact it; nothing else may write to it).</summary>
    internal IStore Store => _store;

    /// <summary>The watch endpoint (tests close and hold watches).</summary>
    internal WatchStreamer Watches { get; }

    public static async Task<ApiServerHost> StartAsync(ApiServerOptions options, ILoggerFactory loggerFactory, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var logger = loggerFactory.CreateLogger("Switchboard.ApiServer");
        Directory.CreateDirectory(options.DataDir);
        var pki = Pki.LoadOrCreate(Path.Combine(options.DataDir, "pki"), new PkiOptions
        {
            ClusterDomain = options.ClusterDomain,
            ServiceCidrs = options.ServiceCidrs,
            AdvertiseAddresses = options.AdvertiseAddresses,
            ExtraSans = options.ExtraSans,
        }, time);

        IStore store = options.InMemoryStore
            ? new MemoryStore(new StoreOptions(), time, loggerFactory.CreateLogger<MemoryStore>())
            : new SqliteStore(new SqliteStoreOptions { Path = Path.Combine(options.DataDir, "state.db") }, time, loggerFactory.CreateLogger<SqliteStore>());
        try
        {
            var catalog = ResourceCatalog.Default;
            var serviceNetworking = new ServiceNetworking(options, loggerFactory, time);
            var strategies = new Dictionary<Type, IResourceStrategy>
            {
                [typeof(V1Namespace)] = new NamespaceStrategy(),
                [typeof(V1Deployment)] = new DeploymentStrategy(),
                [typeof(V1ReplicaSet)] = new ReplicaSetStrategy(),
                [typeof(V1Pod)] = new PodStrategy(),
                [typeof(V1Secret)] = new SecretStrategy(),
                [typeof(V1Node)] = new NodeStrategy(),
                [typeof(V1EndpointSlice)] = new EndpointSliceStrategy(),
                [typeof(V1Ingress)] = new IngressStrategy(store, catalog.FindKind("networking.k8s.io", "IngressClass")!.StorePrefix),
                [typeof(V1IngressClass)] = new IngressClassStrategy(),
                [typeof(V1NetworkPolicy)] = new NetworkPolicyStrategy(),
            };
            serviceNetworking.AddStrategies(strategies);
            var schemas = new SchemaCatalog(catalog);
            var registry = new ApiRegistry(catalog, schemas, store, time, strategies);
            await serviceNetworking.StartAsync(registry, options, cancellationToken).ConfigureAwait(false);

            var tokens = new ServiceAccountTokens(pki.ServiceAccountKey, new ServiceAccountTokenOptions { ClusterDomain = options.ClusterDomain }, time);
            var auth = new BearerAuthenticator(pki.AdminToken, tokens);
            var openApi = new OpenApiDocuments(catalog, schemas);
            var fieldValidator = new FieldValidator(schemas);
            var stopping = new CancellationTokenSource();
            var watch = new WatchStreamer(new WatchOptions(), time, stopping.Token);
            var podProxy = new PodStreamProxy(registry,
                new KubeletConnector(options.KubeletDialer, pki.KubeletClientCertificate, TimeSpan.FromSeconds(10)), loggerFactory.CreateLogger("Switchboard.ApiServer.Proxy"));
            var handler = new ApiHandler(registry, new DiscoveryDocuments(catalog), openApi, auth, tokens, fieldValidator, new ApiMetrics(), watch, options, time, logger, VersionDocument())
            {
                PodProxy = podProxy,
            };

            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Services.AddSingleton(loggerFactory);
            builder.WebHost.ConfigureKestrel(k =>
            {
                k.AddServerHeader = false;
                // The API answers 413 above MaxRequestBodyBytes after draining; this hard bound stops drains of absurd bodies.
                k.Limits.MaxRequestBodySize = Math.Max(options.MaxRequestBodyBytes * 8, 32L * 1024 * 1024);
                k.Limits.MinRequestBodyDataRate = null;
                k.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(5);
                k.Listen(IPAddress.Parse(options.Bind), options.Port, l =>
                {
                    l.Protocols = HttpProtocols.Http1AndHttp2;
                    l.UseHttps(pki.ServingCertificate);
                });
                foreach (var handle in options.ExtraListenHandles)
                {
                    k.ListenHandle(handle, l =>
                    {
                        l.Protocols = HttpProtocols.Http1AndHttp2;
                        l.UseHttps(pki.ServingCertificate);
                    });
                }
            });
            var app = builder.Build();
            app.Run(handler.HandleAsync);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);

            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var port = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)).Port;
            var url = new Uri(FormattableString.Invariant($"https://{(options.Bind.Contains(':', StringComparison.Ordinal) ? "[" + options.Bind + "]" : options.Bind)}:{port}"));

            await SystemObjects.EnsureAsync(registry, options, logger, cancellationToken).ConfigureAwait(false);
            var kubeconfig = Path.Combine(options.DataDir, "kubeconfig");
            Kubeconfig.WriteAdmin(kubeconfig, pki.CaPem, port, pki.AdminToken, FileOwner.FromSudoEnvironment());
            handler.MarkReady();
            Log.Started(logger, url);
            serviceNetworking.StartRepairLoop();
            return new ApiServerHost(app, store, pki, url, kubeconfig, stopping, watch) { _serviceNetworking = serviceNetworking, _podProxy = podProxy };
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            pki.Dispose();
            throw;
        }
    }

    private static byte[] VersionDocument()
    {
        var version = typeof(ApiServerHost).Assembly.GetName().Version ?? new Version(0, 1, 0);
        var doc = new Dictionary<string, string>
        {
            ["major"] = "1",
            ["minor"] = "33",
            ["gitVersion"] = FormattableString.Invariant($"v1.33.0-switchboard.{version.Major}.{version.Minor}.{version.Build}"),
            ["gitCommit"] = "",
            ["gitTreeState"] = "clean",
            ["buildDate"] = "",
            ["goVersion"] = "dotnet" + Environment.Version.ToString(),
            ["compiler"] = "roslyn",
            ["platform"] = "linux/" + System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant() switch
            {
                "x64" => "amd64",
                var other => other,
            },
        };
        return JsonSerializer.SerializeToUtf8Bytes(doc);
    }

    public async ValueTask DisposeAsync()
    {
        // End open watches first so that Kestrel's graceful stop does not wait for them.
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _app.StopAsync(deadline.Token).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            if (_serviceNetworking is not null)
            {
                await _serviceNetworking.DisposeAsync().ConfigureAwait(false);
            }
            await _store.DisposeAsync().ConfigureAwait(false);
            _podProxy?.Dispose();
            _pki.Dispose();
            _stopping.Dispose();
            Watches.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "API server listening on {Url}")]
        public static partial void Started(ILogger logger, Uri url);
    }
}
