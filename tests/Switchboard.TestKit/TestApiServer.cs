using System.Security.Cryptography.X509Certificates;
using k8s;
using Microsoft.Extensions.Logging.Abstractions;
using Switchboard.ApiServer;
using Switchboard.ApiServer.Hosting;

namespace Switchboard.TestKit;

/// <summary>
/// A real API server in-process on 127.0.0.1 port 0 with a temp data dir, and clients that trust its CA:
/// raw HttpClient for wire-level checks and KubernetesClient for library-level ones.
/// </summary>
public sealed class TestApiServer : IAsyncDisposable
{
    private readonly X509Certificate2 _ca;

    private TestApiServer(ApiServerHost host, string dataDir, bool ownsDir)
    {
        Host = host;
        DataDir = dataDir;
        OwnsDir = ownsDir;
        _ca = X509Certificate2.CreateFromPem(host.CaPem);
        Http = CreateHttpClient(host.AdminToken);
        Client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(host.KubeconfigPath));
    }

    public ApiServerHost Host { get; }

    public string DataDir { get; }

    private bool OwnsDir { get; }

    public Uri Url => Host.Url;

    /// <summary>An HttpClient with the admin token, trusting only the cluster CA.</summary>
    public HttpClient Http { get; }

    public Kubernetes Client { get; }

    public static async Task<TestApiServer> StartAsync(bool sqlite = false, string? dataDir = null, Action<ApiServerOptions>? configure = null)
    {
        var ownsDir = dataDir is null;
        dataDir ??= Path.Combine(Path.GetTempPath(), "sb-test-" + Guid.NewGuid().ToString("N")[..12]);
        var options = new ApiServerOptions { DataDir = dataDir, Port = 0, InMemoryStore = !sqlite };
        configure?.Invoke(options);
        var host = await ApiServerHost.StartAsync(options, NullLoggerFactory.Instance, TimeProvider.System, CancellationToken.None);
        return new TestApiServer(host, dataDir, ownsDir);
    }

    /// <summary>An HttpClient with the given bearer token (or none), trusting only the cluster CA.</summary>
    public HttpClient CreateHttpClient(string? token) => ClusterHttp.Create(Url, _ca, token);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Client.Dispose();
        await Host.DisposeAsync();
        _ca.Dispose();
        if (OwnsDir)
        {
            try
            {
                Directory.Delete(DataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
