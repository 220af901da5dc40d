using System.Text.Json;
using k8s.Models;
using Switchboard.Api.Resources;
using Switchboard.Api.Schema;

namespace Switchboard.Api.Tests.Schema;

public sealed class SchemaCatalogTests(SchemaFixture fixture) : IClassFixture<SchemaFixture>
{
    public static TheoryData<Type, string> KindNames => new()
    {
        { typeof(V1Namespace), "io.k8s.api.core.v1.Namespace" },
        { typeof(V1Node), "io.k8s.api.core.v1.Node" },
        { typeof(V1Pod), "io.k8s.api.core.v1.Pod" },
        { typeof(V1Service), "io.k8s.api.core.v1.Service" },
        { typeof(V1Endpoints), "io.k8s.api.core.v1.Endpoints" },
        { typeof(V1Secret), "io.k8s.api.core.v1.Secret" },
        { typeof(V1ConfigMap), "io.k8s.api.core.v1.ConfigMap" },
        { typeof(V1ServiceAccount), "io.k8s.api.core.v1.ServiceAccount" },
        { typeof(Corev1Event), "io.k8s.api.core.v1.Event" },
        { typeof(V1Deployment), "io.k8s.api.apps.v1.Deployment" },
        { typeof(V1ReplicaSet), "io.k8s.api.apps.v1.ReplicaSet" },
        { typeof(V1Lease), "io.k8s.api.coordination.v1.Lease" },
        { typeof(V1EndpointSlice), "io.k8s.api.discovery.v1.EndpointSlice" },
        { typeof(V1Ingress), "io.k8s.api.networking.v1.Ingress" },
        { typeof(V1IngressClass), "io.k8s.api.networking.v1.IngressClass" },
        { typeof(V1NetworkPolicy), "io.k8s.api.networking.v1.NetworkPolicy" },
        { typeof(V1ServiceList), "io.k8s.api.core.v1.ServiceList" },
        { typeof(Corev1EventList), "io.k8s.api.core.v1.EventList" },
        { typeof(V1EndpointSliceList), "io.k8s.api.discovery.v1.EndpointSliceList" },
        { typeof(V1Scale), "io.k8s.api.autoscaling.v1.Scale" },
        { typeof(Authenticationv1TokenRequest), "io.k8s.api.authentication.v1.TokenRequest" },
    };

    public static TheoryData<Type, string> NestedNames => new()
    {
        { typeof(V1ObjectMeta), "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" },
        { typeof(V1ListMeta), "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta" },
        { typeof(V1Status), "io.k8s.apimachinery.pkg.apis.meta.v1.Status" },
        { typeof(V1StatusDetails), "io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails" },
        { typeof(V1DeleteOptions), "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions" },
        { typeof(V1LabelSelector), "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector" },
        { typeof(V1LabelSelectorRequirement), "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement" },
        { typeof(V1Condition), "io.k8s.apimachinery.pkg.apis.meta.v1.Condition" },
        { typeof(V1OwnerReference), "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference" },
        { typeof(V1ServiceSpec), "io.k8s.api.core.v1.ServiceSpec" },
        { typeof(V1ServicePort), "io.k8s.api.core.v1.ServicePort" },
        { typeof(V1PodTemplateSpec), "io.k8s.api.core.v1.PodTemplateSpec" },
        { typeof(V1Container), "io.k8s.api.core.v1.Container" },
        { typeof(Corev1EndpointPort), "io.k8s.api.core.v1.EndpointPort" },
        { typeof(Corev1EventSeries), "io.k8s.api.core.v1.EventSeries" },
        { typeof(V1TypedLocalObjectReference), "io.k8s.api.core.v1.TypedLocalObjectReference" },
        { typeof(V1DeploymentSpec), "io.k8s.api.apps.v1.DeploymentSpec" },
        { typeof(V1Endpoint), "io.k8s.api.discovery.v1.Endpoint" },
        { typeof(V1EndpointConditions), "io.k8s.api.discovery.v1.EndpointConditions" },
        { typeof(Discoveryv1EndpointPort), "io.k8s.api.discovery.v1.EndpointPort" },
        { typeof(V1IngressBackend), "io.k8s.api.networking.v1.IngressBackend" },
        { typeof(V1NetworkPolicyPeer), "io.k8s.api.networking.v1.NetworkPolicyPeer" },
        { typeof(V1LeaseSpec), "io.k8s.api.coordination.v1.LeaseSpec" },
        { typeof(V1ScaleSpec), "io.k8s.api.autoscaling.v1.ScaleSpec" },
    };

    [Theory]
    [MemberData(nameof(KindNames))]
    [MemberData(nameof(NestedNames))]
    public void TryGetName_ModelType_IsUpstreamComponentName(Type type, string expected)
    {
        Assert.True(fixture.Catalog.TryGetName(type, out var name));
        Assert.Equal(expected, name);
    }

    [Fact]
    public void TryGetName_EveryCatalogueKindAndList_IsNamedAndCarriesItsGroupVersionKind()
    {
        foreach (var resource in ResourceCatalog.Default.All)
        {
            Assert.True(fixture.Catalog.TryGetName(resource.ModelType, out var name), resource.Kind);
            var package = resource.Group.Length == 0 ? "core" : resource.Group.Split('.')[0];
            Assert.Equal($"io.k8s.api.{package}.{resource.Version}.{resource.Kind}", name);

            var gvk = Assert.Single(fixture.Schema(name).GetProperty("x-kubernetes-group-version-kind").EnumerateArray());
            Assert.Equal(resource.Group, gvk.GetProperty("group").GetString());
            Assert.Equal(resource.Version, gvk.GetProperty("version").GetString());
            Assert.Equal(resource.Kind, gvk.GetProperty("kind").GetString());

            Assert.True(fixture.Catalog.TryGetName(SchemaCatalog.ListTypeOf(resource.ModelType)!, out var listName));
            Assert.Equal(name + "List", listName);
        }
    }

    [Fact]
    public void Names_AreUniqueAndNeedNoFallback()
    {
        var names = fixture.Catalog.Names;
        Assert.Equal(names.Length, names.Distinct(StringComparer.Ordinal).Count());
        Assert.DoesNotContain(names, n => n.StartsWith("io.k8s.switchboard.", StringComparison.Ordinal));
        Assert.Contains("io.k8s.apimachinery.pkg.apis.meta.v1.Time", names);
        Assert.Contains("io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime", names);
        Assert.Contains("io.k8s.apimachinery.pkg.util.intstr.IntOrString", names);
        Assert.Contains("io.k8s.apimachinery.pkg.api.resource.Quantity", names);
    }

    [Fact]
    public void WriteSchema_SpecialTypes_HaveUpstreamTypeAndFormat()
    {
        var intOrString = fixture.Schema("io.k8s.apimachinery.pkg.util.intstr.IntOrString");
        Assert.Equal("string", intOrString.GetProperty("type").GetString());
        Assert.Equal("int-or-string", intOrString.GetProperty("format").GetString());

        var time = fixture.Schema("io.k8s.apimachinery.pkg.apis.meta.v1.Time");
        Assert.Equal("string", time.GetProperty("type").GetString());
        Assert.Equal("date-time", time.GetProperty("format").GetString());

        Assert.Equal("string", fixture.Schema("io.k8s.apimachinery.pkg.api.resource.Quantity").GetProperty("type").GetString());
    }

    [Fact]
    public void WriteSchema_ServiceSpec_HasDescriptionsRefsAndPatchExtensions()
    {
        var service = fixture.Schema("io.k8s.api.core.v1.Service");
        Assert.False(string.IsNullOrWhiteSpace(service.GetProperty("description").GetString()));
        var spec = service.GetProperty("properties").GetProperty("spec");
        Assert.Contains("behavior of a service", spec.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal("#/components/schemas/io.k8s.api.core.v1.ServiceSpec", RefOf(spec));

        var specSchema = fixture.Schema("io.k8s.api.core.v1.ServiceSpec");
        var properties = specSchema.GetProperty("properties");
        Assert.All(properties.EnumerateObject(), p => Assert.False(string.IsNullOrWhiteSpace(p.Value.GetProperty("description").GetString()), p.Name));

        var ports = properties.GetProperty("ports");
        Assert.Equal("array", ports.GetProperty("type").GetString());
        Assert.Equal("#/components/schemas/io.k8s.api.core.v1.ServicePort", RefOf(ports.GetProperty("items")));
        Assert.Equal("merge", ports.GetProperty("x-kubernetes-patch-strategy").GetString());
        Assert.Equal("port", ports.GetProperty("x-kubernetes-patch-merge-key").GetString());
        Assert.Equal("map", ports.GetProperty("x-kubernetes-list-type").GetString());
        Assert.Equal(["port", "protocol"], ports.GetProperty("x-kubernetes-list-map-keys").EnumerateArray().Select(e => e.GetString()));

        var selector = properties.GetProperty("selector");
        Assert.Equal("object", selector.GetProperty("type").GetString());
        Assert.Equal("string", selector.GetProperty("additionalProperties").GetProperty("type").GetString());
        Assert.Equal("atomic", selector.GetProperty("x-kubernetes-map-type").GetString());

        var targetPort = fixture.Schema("io.k8s.api.core.v1.ServicePort").GetProperty("properties").GetProperty("targetPort");
        Assert.Equal("#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString", RefOf(targetPort));
        var port = fixture.Schema("io.k8s.api.core.v1.ServicePort").GetProperty("properties").GetProperty("port");
        Assert.Equal("integer", port.GetProperty("type").GetString());
        Assert.Equal("int32", port.GetProperty("format").GetString());
    }

    [Fact]
    public void WriteSchema_ScalarsMapsAndTimes_FollowUpstreamShapes()
    {
        var meta = fixture.Schema("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta").GetProperty("properties");
        Assert.Equal("#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time", RefOf(meta.GetProperty("creationTimestamp")));
        Assert.Equal("int64", meta.GetProperty("generation").GetProperty("format").GetString());
        Assert.Equal("set", meta.GetProperty("finalizers").GetProperty("x-kubernetes-list-type").GetString());

        var secret = fixture.Schema("io.k8s.api.core.v1.Secret").GetProperty("properties");
        Assert.Equal("byte", secret.GetProperty("data").GetProperty("additionalProperties").GetProperty("format").GetString());

        var requests = fixture.Schema("io.k8s.api.core.v1.ResourceRequirements").GetProperty("properties").GetProperty("requests");
        Assert.Equal("#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity",
            requests.GetProperty("additionalProperties").GetProperty("$ref").GetString());

        var eventTime = fixture.Schema("io.k8s.api.core.v1.Event").GetProperty("properties").GetProperty("eventTime");
        Assert.Equal("#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime", RefOf(eventTime));

        var fieldsV1 = fixture.Schema("io.k8s.apimachinery.pkg.apis.meta.v1.ManagedFieldsEntry").GetProperty("properties").GetProperty("fieldsV1");
        Assert.Equal("#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1", RefOf(fieldsV1));

        Assert.Equal("atomic", fixture.Schema("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector").GetProperty("x-kubernetes-map-type").GetString());
    }

    [Fact]
    public void Descriptions_EmbeddedCopy_IsLoaded()
    {
        Assert.True(ModelDescriptions.FromDefaultSources().Count > 1000);
    }

    [Fact]
    public void WriteSchema_WithoutDescriptionSource_OmitsDescriptionsAndStillWorks()
    {
        var catalog = new SchemaCatalog(ResourceCatalog.Default, ModelDescriptions.FromFile("/nonexistent/KubernetesClient.xml"));
        var documents = new OpenApiDocuments(catalog);
        Assert.True(documents.TryGet("api/v1", out var bytes, out _));
        using var doc = JsonDocument.Parse(bytes);
        var service = doc.RootElement.GetProperty("components").GetProperty("schemas").GetProperty("io.k8s.api.core.v1.Service");
        Assert.False(service.TryGetProperty("description", out _));
        Assert.True(service.GetProperty("properties").TryGetProperty("spec", out _));
    }

    [Fact]
    public void Descriptions_FromPackageXmlFile_MatchTheEmbeddedCopy()
    {
        // The runtime fallback reads the full package file; it must agree with the build-time cut.
        var xml = Path.ChangeExtension(typeof(V1Pod).Assembly.Location, ".xml");
        var candidates = new[]
        {
            xml,
            Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
                "kubernetesclient", PackageVersion(), "lib", "net10.0", "KubernetesClient.xml"),
        };
        var path = candidates.FirstOrDefault(File.Exists);
        if (path is null)
        {
            return; // No package docs on this machine; the embedded copy is covered above.
        }
        var full = ModelDescriptions.FromFile(path);
        var embedded = ModelDescriptions.FromDefaultSources();
        Assert.Equal(embedded.Count, full.Count);
        var ports = typeof(V1ServiceSpec).GetProperty(nameof(V1ServiceSpec.Ports))!;
        Assert.Equal(embedded.ForProperty(ports), full.ForProperty(ports));
        Assert.Equal(embedded.ForType(typeof(V1Service)), full.ForType(typeof(V1Service)));
    }

    private static string PackageVersion()
    {
        var informational = typeof(V1Pod).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().Single().InformationalVersion;
        return informational.Split('+')[0];
    }

    private static string? RefOf(JsonElement property) =>
        property.TryGetProperty("allOf", out var allOf)
            ? allOf[0].GetProperty("$ref").GetString()
            : property.GetProperty("$ref").GetString();
}
