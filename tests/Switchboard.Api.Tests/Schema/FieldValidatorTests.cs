using System.Text;
using k8s.Models;
using Switchboard.Api.Resources;

namespace Switchboard.Api.Tests.Schema;

public sealed class FieldValidatorTests(SchemaFixture fixture) : IClassFixture<SchemaFixture>
{
    private const string Service = """
        {
          "apiVersion": "v1",
          "kind": "Service",
          "metadata": {
            "name": "web",
            "namespace": "shop",
            "labels": {"app.kubernetes.io/name": "web", "tier": "frontend"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "example.com/any key!": "x"}
          },
          "spec": {
            "type": "LoadBalancer",
            "selector": {"app.kubernetes.io/name": "web"},
            "ports": [
              {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
              {"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP", "appProtocol": "kubernetes.io/h2c"}
            ],
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
            "ipFamilyPolicy": "PreferDualStack",
            "ipFamilies": ["IPv4", "IPv6"],
            "externalTrafficPolicy": "Local",
            "internalTrafficPolicy": "Cluster",
            "trafficDistribution": "PreferClose"
          },
          "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7", "ipMode": "VIP", "ports": [{"port": 80, "protocol": "TCP"}]}]}}
        }
        """;

    private const string Deployment = """
        {
          "apiVersion": "apps/v1",
          "kind": "Deployment",
          "metadata": {"name": "api", "labels": {"app": "api"}, "ownerReferences": [], "finalizers": ["example.com/keep"]},
          "spec": {
            "replicas": 3,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": {"app": "api"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["backend"]}]},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "template": {
              "metadata": {"labels": {"app": "api", "tier": "backend"}, "annotations": {"prometheus.io/scrape": "true"}},
              "spec": {
                "serviceAccountName": "api",
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "api", "effect": "NoSchedule"}],
                "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                  {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "api"}}}}
                ]}},
                "securityContext": {"runAsNonRoot": true, "fsGroup": 2000, "seccompProfile": {"type": "RuntimeDefault"}},
                "initContainers": [{"name": "migrate", "image": "registry.example/api:1.4", "command": ["/app/migrate"], "args": ["--wait"]}],
                "containers": [{
                  "name": "api",
                  "image": "registry.example/api:1.4",
                  "imagePullPolicy": "IfNotPresent",
                  "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}, {"name": "metrics", "containerPort": 9090}],
                  "env": [
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password", "optional": false}}}
                  ],
                  "envFrom": [{"configMapRef": {"name": "api-config"}}],
                  "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": 1, "memory": "1Gi"}},
                  "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 5},
                  "livenessProbe": {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 10},
                  "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
                  "volumeMounts": [{"name": "config", "mountPath": "/etc/api", "readOnly": true}],
                  "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}
                }],
                "volumes": [
                  {"name": "config", "configMap": {"name": "api-config", "items": [{"key": "app.yaml", "path": "app.yaml"}]}},
                  {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}
                ]
              }
            }
          }
        }
        """;

    private const string EndpointSlice = """
        {
          "apiVersion": "discovery.k8s.io/v1",
          "kind": "EndpointSlice",
          "metadata": {"name": "web-abc12", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
          "addressType": "IPv4",
          "endpoints": [
            {"addresses": ["10.1.2.3"], "conditions": {"ready": true, "serving": true, "terminating": false},
             "nodeName": "node-a", "zone": "zone-1", "hints": {"forZones": [{"name": "zone-1"}]},
             "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "shop", "uid": "0f7c"}}
          ],
          "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]
        }
        """;

    private const string Ingress = """
        {
          "apiVersion": "networking.k8s.io/v1",
          "kind": "Ingress",
          "metadata": {"name": "web", "annotations": {"nginx.ingress.kubernetes.io/rewrite-target": "/"}},
          "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
            "defaultBackend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static"}},
            "rules": [{"host": "shop.example.com", "http": {"paths": [
              {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
              {"path": "/api", "pathType": "ImplementationSpecific", "backend": {"service": {"name": "api", "port": {"name": "http"}}}}
            ]}}]
          },
          "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9", "ports": [{"port": 443, "protocol": "TCP"}]}]}}
        }
        """;

    private const string NetworkPolicy = """
        {
          "apiVersion": "networking.k8s.io/v1",
          "kind": "NetworkPolicy",
          "metadata": {"name": "api-allow", "namespace": "shop"},
          "spec": {
            "podSelector": {"matchLabels": {"app": "api"}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{
              "from": [
                {"podSelector": {"matchLabels": {"app": "web"}}},
                {"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["shop"]}]}},
                {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.9.0.0/16"]}}
              ],
              "ports": [{"protocol": "TCP", "port": 8080}, {"protocol": "TCP", "port": "metrics", "endPort": 9100}]
            }],
            "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "UDP", "port": 53}]}]
          }
        }
        """;

    public static TheoryData<string, Type> ValidManifests => new()
    {
        { Service, typeof(V1Service) },
        { Deployment, typeof(V1Deployment) },
        { EndpointSlice, typeof(V1EndpointSlice) },
        { Ingress, typeof(V1Ingress) },
        { NetworkPolicy, typeof(V1NetworkPolicy) },
        { """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"app.yaml":"a: 1","weird key / ü":"x"},"binaryData":{"blob":"AAE="}}""", typeof(V1ConfigMap) },
        { """{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"Opaque","data":{"password":"cGFzcw=="},"stringData":{"user":"admin"}}""", typeof(V1Secret) },
        { """{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l"},"spec":{"holderIdentity":"n1","leaseDurationSeconds":15,"renewTime":"2025-01-01T00:00:00.000000Z"}}""", typeof(V1Lease) },
        { """{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","managedFields":[{"manager":"kubectl","operation":"Apply","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:anything":{}}}}]},"spec":{"containers":[{"name":"c","image":"i"}]}}""", typeof(V1Pod) },
    };

    [Theory]
    [MemberData(nameof(ValidManifests))]
    public void Validate_RealisticManifest_ReportsNothing(string json, Type type)
    {
        Assert.Empty(Validate(json, type));
    }

    [Fact]
    public void Validate_UnknownNestedField_ReportsDottedPath()
    {
        var json = Service.Replace("\"type\": \"LoadBalancer\",", "\"type\": \"LoadBalancer\", \"foo\": {\"deep\": [1, {\"x\": 2}]},", StringComparison.Ordinal);
        Assert.Equal(["unknown field \"spec.foo\""], Validate(json, typeof(V1Service)));
    }

    [Fact]
    public void Validate_UnknownFieldInListItem_ReportsIndex()
    {
        var json = Service.Replace("\"name\": \"https\",", "\"name\": \"https\", \"bogus\": true,", StringComparison.Ordinal);
        Assert.Equal(["unknown field \"spec.ports[1].bogus\""], Validate(json, typeof(V1Service)));

        var deployment = Deployment.Replace("{\"name\": \"metrics\", \"containerPort\": 9090}", "{\"name\": \"metrics\", \"containerPort\": 9090, \"hostPortt\": 1}", StringComparison.Ordinal);
        Assert.Equal(["unknown field \"spec.template.spec.containers[0].ports[1].hostPortt\""], Validate(deployment, typeof(V1Deployment)));
    }

    [Fact]
    public void Validate_UnknownFieldsInMetadataStatusAndRoot_AreAllReportedInDocumentOrder()
    {
        var json = """
            {"apiVersion":"v1","kind":"Service","spce":{},"metadata":{"name":"a","labelz":{"a":"b"}},
             "spec":{"ports":[{"port":80}]},"status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4","bogus":1}]}}}
            """;
        Assert.Equal(
            ["unknown field \"spce\"", "unknown field \"metadata.labelz\"", "unknown field \"status.loadBalancer.ingress[0].bogus\""],
            Validate(json, typeof(V1Service)));
    }

    [Fact]
    public void Validate_DuplicateFields_AreReportedAtEveryLevel()
    {
        var json = """
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"a","namespace":"x","name":"b","labels":{"app":"1","app":"2"}},
             "spec":{"ports":[{"port":80,"port":81}]},"kind":"Service"}
            """;
        Assert.Equal(
            [
                "duplicate field \"metadata.name\"",
                "duplicate field \"metadata.labels.app\"",
                "duplicate field \"spec.ports[0].port\"",
                "duplicate field \"kind\"",
            ],
            Validate(json, typeof(V1Service)));
    }

    [Fact]
    public void Validate_DuplicateKeyInLargeMap_IsFound()
    {
        var labels = string.Join(",", Enumerable.Range(0, 40).Select(i => $"\"k{i}\":\"v\"")) + ",\"k3\":\"again\"";
        var json = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\",\"labels\":{" + labels + "}}}";
        Assert.Equal(["duplicate field \"metadata.labels.k3\""], Validate(json, typeof(V1ConfigMap)));
    }

    [Fact]
    public void Validate_RepeatedUnknownField_IsReportedOnce()
    {
        var json = """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"extra":1,"extra":2}""";
        Assert.Equal(["unknown field \"extra\""], Validate(json, typeof(V1ConfigMap)));
    }

    [Fact]
    public void Validate_CaseMismatch_IsUnknown()
    {
        var json = """{"apiVersion":"v1","kind":"ConfigMap","metadata":{"Name":"c"}}""";
        Assert.Equal(["unknown field \"metadata.Name\""], Validate(json, typeof(V1ConfigMap)));
    }

    [Fact]
    public void Validate_ResourceInfoOverload_UsesTheModelType()
    {
        var services = ResourceCatalog.Default.Find("", "v1", "services")!;
        var problems = fixture.Validator.Validate(Encoding.UTF8.GetBytes("""{"spec":{"nope":1}}"""), services);
        Assert.Equal(["unknown field \"spec.nope\""], problems);
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("{\"spec\":")]
    [InlineData("{\"spec\":{\"bogus\":1,")]
    public void Validate_MalformedOrNonObjectBody_DoesNotThrow(string json)
    {
        var problems = Validate(json, typeof(V1Service));
        Assert.True(problems.Count <= 1);
    }

    [Fact]
    public void Validate_CleanDeployment_DoesNotAllocate()
    {
        var bytes = Encoding.UTF8.GetBytes(Deployment);
        for (var i = 0; i < 20; i++)
        {
            fixture.Validator.Validate(bytes, typeof(V1Deployment));
        }
        var before = GC.GetAllocatedBytesForCurrentThread();
        var problems = fixture.Validator.Validate(bytes, typeof(V1Deployment));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Empty(problems);
        Assert.Equal(0, allocated);
    }

    private IReadOnlyList<string> Validate(string json, Type type) =>
        fixture.Validator.Validate(Encoding.UTF8.GetBytes(json), type);
}
