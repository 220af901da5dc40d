using k8s;
using k8s.Models;
using Switchboard.Api.Resources;
using Switchboard.Api.Serialization;
using Switchboard.TestKit;

namespace Switchboard.Client.Tests.Functional;

/// <summary>
/// The C# KubernetesClient's GenericClient against the real server for every served kind: create, read, list,
/// patch, replace, watch (ADDED, MODIFIED, DELETED) and delete.
/// </summary>
public sealed class TypedEveryKindTests : IAsyncLifetime
{
    private TestApiServer _server = null!;

    public async Task InitializeAsync() => _server = await TestApiServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    public static TheoryData<string, string> Kinds => new()
    {
        { "ConfigMap", """ "data":{"a":"b"} """ },
        { "Secret", """ "type":"Opaque","data":{"a":"Yg=="} """ },
        { "ServiceAccount", """ "automountServiceAccountToken":false """ },
        { "Service", """ "spec":{"selector":{"app":"x"},"ports":[{"port":80}]} """ },
        { "Pod", """ "spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]} """ },
        { "Endpoints", """ "subsets":[{"addresses":[{"ip":"10.244.1.5"}],"ports":[{"port":80}]}] """ },
        { "Event", """ "involvedObject":{"kind":"Pod","name":"p"},"reason":"Test","message":"hello","type":"Normal" """ },
        { "Namespace", "" },
        { "Node", """ "spec":{"podCIDR":"10.244.9.0/24","podCIDRs":["10.244.9.0/24"]} """ },
        { "Deployment", """ "spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}} """ },
        { "ReplicaSet", """ "spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}} """ },
        { "Lease", """ "spec":{"holderIdentity":"me","leaseDurationSeconds":40} """ },
        { "EndpointSlice", """ "addressType":"IPv4","endpoints":[{"addresses":["10.244.1.5"]}],"ports":[{"port":80,"protocol":"TCP","name":"http"}] """ },
        { "Ingress", """ "spec":{"ingressClassName":"x","defaultBackend":{"service":{"name":"web","port":{"number":80}}}} """ },
        { "IngressClass", """ "spec":{"controller":"switchboard.dev/ingress"} """ },
        { "NetworkPolicy", """ "spec":{"podSelector":{},"policyTypes":["Ingress"]} """ },
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public Task GenericClient_EveryKind_CrudAndWatch(string kind, string body) => kind switch
    {
        "ConfigMap" => RunAsync<V1ConfigMap>(body),
        "Secret" => RunAsync<V1Secret>(body),
        "ServiceAccount" => RunAsync<V1ServiceAccount>(body),
        "Service" => RunAsync<V1Service>(body),
        "Pod" => RunAsync<V1Pod>(body),
        "Endpoints" => RunAsync<V1Endpoints>(body),
        "Event" => RunAsync<Corev1Event>(body),
        "Namespace" => RunAsync<V1Namespace>(body),
        "Node" => RunAsync<V1Node>(body),
        "Deployment" => RunAsync<V1Deployment>(body),
        "ReplicaSet" => RunAsync<V1ReplicaSet>(body),
        "Lease" => RunAsync<V1Lease>(body),
        "EndpointSlice" => RunAsync<V1EndpointSlice>(body),
        "Ingress" => RunAsync<V1Ingress>(body),
        "IngressClass" => RunAsync<V1IngressClass>(body),
        "NetworkPolicy" => RunAsync<V1NetworkPolicy>(body),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private async Task RunAsync<T>(string body)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var info = ResourceCatalog.Default.All.Single(r => r.ModelType == typeof(T));
        var ns = "t-" + Guid.NewGuid().ToString("N")[..8];
        await _server.Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
        var name = "obj-" + Guid.NewGuid().ToString("N")[..8];
        var json = $$$"""{"apiVersion":"{{{info.GroupVersion}}}","kind":"{{{info.Kind}}}","metadata":{"name":"{{{name}}}","labels":{"t":"typed"}}{{{(body.Trim().Length > 0 ? "," + body : "")}}}}""";
        var obj = KubeJson.Deserialize<T>(System.Text.Encoding.UTF8.GetBytes(json))!;
        using var generic = new GenericClient(_server.Client, info.Group, info.Version, info.Plural, disposeClient: false);

        using var watchStop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var events = new List<string>();
        var activeBefore = _server.Host.Watches.Active;
        var watch = Task.Run(async () =>
        {
            var stream = info.Namespaced ? generic.WatchNamespacedAsync<T>(ns, cancel: watchStop.Token) : generic.WatchAsync<T>(cancel: watchStop.Token);
            await foreach (var (type, o) in stream)
            {
                if (o.Metadata.Name != name)
                {
                    continue;
                }
                events.Add(type.ToString());
                if (type == WatchEventType.Deleted || (info.Kind == "Namespace" && events.Count >= 3))
                {
                    break;
                }
            }
        });
        // Write only once the watch is registered with the store, so the first event is the create.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (_server.Host.Watches.Active <= activeBefore && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        var created = info.Namespaced ? await generic.CreateNamespacedAsync(obj, ns) : await generic.CreateAsync(obj);
        Assert.Equal(name, created.Metadata.Name);
        Assert.False(string.IsNullOrEmpty(created.Metadata.ResourceVersion));
        var read = info.Namespaced ? await generic.ReadNamespacedAsync<T>(ns, name) : await generic.ReadAsync<T>(name);
        Assert.Equal(created.Metadata.Uid, read.Metadata.Uid);

        var patch = new V1Patch("""{"metadata":{"labels":{"patched":"yes"}}}""", V1Patch.PatchType.MergePatch);
        var patched = info.Namespaced ? await generic.PatchNamespacedAsync<T>(patch, ns, name) : await generic.PatchAsync<T>(patch, name);
        Assert.Equal("yes", patched.Metadata.Labels["patched"]);

        patched.Metadata.Annotations = new Dictionary<string, string> { ["replaced"] = "yes" };
        var replaced = info.Namespaced ? await generic.ReplaceNamespacedAsync(patched, ns, name) : await generic.ReplaceAsync(patched, name);
        Assert.Equal("yes", replaced.Metadata.Annotations["replaced"]);

        if (info.Kind != "Namespace")
        {
            _ = info.Namespaced ? await generic.DeleteNamespacedAsync<T>(ns, name) : await generic.DeleteAsync<T>(name);
        }
        else
        {
            _ = await generic.DeleteAsync<T>(name);
        }
        await watch.WaitAsync(TimeSpan.FromSeconds(60));
        var expected = info.Kind switch
        {
            // Graceful deletion: a scheduled Pod would linger; ours has no node, so it goes at once.
            "Namespace" => ["Added", "Modified", "Modified"],
            _ => new[] { "Added", "Modified", "Modified", "Deleted" },
        };
        Assert.Equal(expected, events.Take(expected.Length));
    }
}
