using Switchboard.E2E.Infrastructure;
using Switchboard.E2E.Nodes;

namespace Switchboard.E2E.Cluster;

/// <summary>
/// One real `switchboard up --nodes 3 --zones a,b,c` (root) shared by the tests of the "up cluster" collection,
/// which run serially and each use their own Kubernetes namespace (ARCHITECTURE.md §5). LoadBalancer Services
/// are published on a loopback address of its own, so runs never clash with a user's cluster.
/// </summary>
public sealed class UpClusterFixture : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "switchboard-e2e-cluster-" + Guid.NewGuid().ToString("N")[..12]);
    private UpProcess? _up;

    public Kubectl Kubectl { get; private set; } = null!;

    /// <summary>The --lb-host-address of this cluster.</summary>
    public string LbHost { get; } = $"127.{Random.Shared.Next(40, 250)}.{Random.Shared.Next(1, 250)}.1";

    internal UpProcess Up => _up ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        Assert.True(Environment.UserName == "root", "the up cluster tests need root (network namespaces); CI runs as root");
        _up = UpProcess.Start(Path.Combine(_root, "data"), "--nodes", "3", "--zones", "a,b,c", "--lb-host-address", LbHost);
        var (_, kubeconfig) = await _up.WaitReadyAsync();
        Kubectl = new Kubectl(kubeconfig, Path.Combine(_root, "kubectl-cache"));
    }

    public async Task DisposeAsync()
    {
        if (_up is not null)
        {
            await _up.DisposeAsync();
        }
        // UpProcess.DisposeAsync stopped the cluster and unmounted the Pods' namespace files under the data dir.
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    /// <summary>A fresh namespace for one test.</summary>
    public async Task<string> NamespaceAsync(string prefix)
    {
        var ns = prefix + "-" + Guid.NewGuid().ToString("N")[..6];
        (await Kubectl.RunAsync("create", "namespace", ns)).ShouldSucceed();
        return ns;
    }
}

[CollectionDefinition(Name)]
public sealed class UpClusterCollection : ICollectionFixture<UpClusterFixture>
{
    public const string Name = "up cluster";
}
