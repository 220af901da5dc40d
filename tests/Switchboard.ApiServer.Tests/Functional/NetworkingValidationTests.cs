using System.Text.Json.Nodes;

namespace Switchboard.ApiServer.Tests.Functional;

/// <summary>
/// The networking kinds' registry rules through the real server: 422 Status causes as upstream renders them,
/// NetworkPolicy and EndpointSlice defaulting and generation, Ingress class defaulting and status validation,
/// Pod and Node networking fields.
/// </summary>
public sealed class NetworkingValidationTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private HttpClient Http => fixture.Server.Http;

    private static List<(string Reason, string Field, string Message)> Causes(JsonNode? status) =>
        [.. status!["details"]!["causes"]!.AsArray().Select(c => (c!["reason"]!.GetValue<string>(), c["field"]!.GetValue<string>(), c["message"]!.GetValue<string>()))];

    [Fact]
    public async Task CreateNetworkPolicy_Invalid_422WithUpstreamCauses()
    {
        var ns = ApiServerFixture.UniqueName("np");
        await Http.CreateNamespaceAsync(ns);
        var (code, status) = await Http.PostJsonAsync($"/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies", """
            {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"bad"},
             "spec":{"podSelector":{},"ingress":[{"from":[{}],"ports":[{"protocol":"ICMP","port":80,"endPort":70}]}],
                     "egress":[{"to":[{"ipBlock":{"cidr":"10.0.0.0/8","except":["11.0.0.0/16"]},"podSelector":{}}]}]}}
            """);
        Assert.Equal(422, code);
        Assert.Equal("Invalid", status!["reason"]!.GetValue<string>());
        Assert.Equal("NetworkPolicy", status["details"]!["kind"]!.GetValue<string>());
        Assert.Equal("networking.k8s.io", status["details"]!["group"]!.GetValue<string>());
        Assert.Equal(
        [
            ("FieldValueNotSupported", "spec.ingress[0].ports[0].protocol", "Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\""),
            ("FieldValueInvalid", "spec.ingress[0].ports[0].endPort", "Invalid value: 80: must be greater than or equal to `port`"),
            ("FieldValueRequired", "spec.ingress[0].from[0]", "Required value: must specify a peer"),
            ("FieldValueInvalid", "spec.egress[0].to[0].ipBlock.except[0]", "Invalid value: \"11.0.0.0/16\": must be a strict subset of `cidr`"),
            ("FieldValueForbidden", "spec.egress[0].to[0]", "Forbidden: may not specify both ipBlock and another peer"),
        ], Causes(status));
        Assert.StartsWith("NetworkPolicy.networking.k8s.io \"bad\" is invalid: [spec.ingress[0].ports[0].protocol: Unsupported value: \"ICMP\"",
            status["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateNetworkPolicy_PolicyTypesAndProtocolDefaulted_GenerationTracksSpec()
    {
        var ns = ApiServerFixture.UniqueName("np");
        await Http.CreateNamespaceAsync(ns);
        var basePath = $"/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies";

        var (code, ingressOnly) = await Http.PostJsonAsync(basePath, """
            {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny-all"},"spec":{}}
            """);
        Assert.Equal(201, code);
        Assert.Equal("""{"podSelector":{},"policyTypes":["Ingress"]}""", ingressOnly!["spec"]!.ToJsonString());
        Assert.Equal(1, ingressOnly["metadata"]!["generation"]!.GetValue<long>());

        (code, var withEgress) = await Http.PostJsonAsync(basePath, """
            {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"egress"},
             "spec":{"podSelector":{"matchLabels":{"app":"web"}},"egress":[{"ports":[{"port":53},{"port":"dns","protocol":"UDP"}]}]}}
            """);
        Assert.Equal(201, code);
        Assert.Equal("""["Ingress","Egress"]""", withEgress!["spec"]!["policyTypes"]!.ToJsonString());
        Assert.Equal("""[{"port":53,"protocol":"TCP"},{"port":"dns","protocol":"UDP"}]""", withEgress["spec"]!["egress"]![0]!["ports"]!.ToJsonString());

        // An update that omits the defaulted fields is defaulted again and is not a spec change.
        (code, var same) = await Http.SendJsonAsync(HttpMethod.Put, basePath + "/egress", """
            {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"egress","labels":{"x":"y"}},
             "spec":{"podSelector":{"matchLabels":{"app":"web"}},"egress":[{"ports":[{"port":53},{"port":"dns","protocol":"UDP"}]}]}}
            """);
        Assert.Equal(200, code);
        Assert.Equal(1, same!["metadata"]!["generation"]!.GetValue<long>());

        (code, var changed) = await Http.SendJsonAsync(HttpMethod.Put, basePath + "/egress", """
            {"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"egress"},
             "spec":{"podSelector":{"matchLabels":{"app":"web"}},"policyTypes":["Egress"],"egress":[{"ports":[{"port":53}]}]}}
            """);
        Assert.Equal(200, code);
        Assert.Equal(2, changed!["metadata"]!["generation"]!.GetValue<long>());
        Assert.Equal("""["Egress"]""", changed["spec"]!["policyTypes"]!.ToJsonString());
    }

    [Fact]
    public async Task CreateIngress_DefaultClassAdmission_NewestDefaultWinsAndExplicitClassKept()
    {
        var ns = ApiServerFixture.UniqueName("ing");
        await Http.CreateNamespaceAsync(ns);
        var ingresses = $"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses";
        const string Classes = "/apis/networking.k8s.io/v1/ingressclasses";
        static string Ingress(string name, string extra = "") => """
            {"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"NAME"EXTRA},
             "spec":{"rules":[{"host":"web.example.com","http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":"web","port":{"number":80}}}}]}}]}}
            """.Replace("NAME", name, StringComparison.Ordinal).Replace("EXTRA", extra, StringComparison.Ordinal);
        static string Class(string name, bool isDefault) => """
            {"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"NAME"EXTRA},
             "spec":{"controller":"switchboard.dev/ingress","parameters":{"kind":"Params","name":"p"}}}
            """.Replace("NAME", name, StringComparison.Ordinal)
            .Replace("EXTRA", isDefault ? ",\"annotations\":{\"ingressclass.kubernetes.io/is-default-class\":\"true\"}" : "", StringComparison.Ordinal);

        // No default class yet: the field stays unset.
        var (code, ing) = await Http.PostJsonAsync(ingresses, Ingress("before"));
        Assert.Equal(201, code);
        Assert.Null(ing!["spec"]!["ingressClassName"]);
        Assert.Equal("""{"loadBalancer":{}}""", ing["status"]!.ToJsonString());

        (code, var cls) = await Http.PostJsonAsync(Classes, Class(ApiServerFixture.UniqueName("a-older"), isDefault: true));
        Assert.Equal(201, code);
        Assert.Equal("Cluster", cls!["spec"]!["parameters"]!["scope"]!.GetValue<string>());
        Assert.Equal(1, cls["metadata"]!["generation"]!.GetValue<long>());
        (code, _) = await Http.PostJsonAsync(Classes, Class(ApiServerFixture.UniqueName("plain"), isDefault: false));
        Assert.Equal(201, code);
        // creationTimestamp has whole seconds; the newer class must be at least a second younger.
        await Task.Delay(1100);
        var newest = ApiServerFixture.UniqueName("z-newer");
        (code, _) = await Http.PostJsonAsync(Classes, Class(newest, isDefault: true));
        Assert.Equal(201, code);

        (code, ing) = await Http.PostJsonAsync(ingresses, Ingress("defaulted"));
        Assert.Equal(201, code);
        Assert.Equal(newest, ing!["spec"]!["ingressClassName"]!.GetValue<string>());

        (code, ing) = await Http.PostJsonAsync(ingresses, Ingress("explicit").Replace("\"spec\":{", "\"spec\":{\"ingressClassName\":\"other\",", StringComparison.Ordinal));
        Assert.Equal(201, code);
        Assert.Equal("other", ing!["spec"]!["ingressClassName"]!.GetValue<string>());

        // The legacy annotation also opts out of defaulting.
        (code, ing) = await Http.PostJsonAsync(ingresses, Ingress("annotated", ",\"annotations\":{\"kubernetes.io/ingress.class\":\"nginx\"}"));
        Assert.Equal(201, code);
        Assert.Null(ing!["spec"]!["ingressClassName"]);

        // Updates never default.
        (code, ing) = await Http.SendJsonAsync(HttpMethod.Put, ingresses + "/before", Ingress("before"));
        Assert.Equal(200, code);
        Assert.Null(ing!["spec"]!["ingressClassName"]);
    }

    [Fact]
    public async Task Ingress_InvalidSpecAndStatus_422()
    {
        var ns = ApiServerFixture.UniqueName("ing");
        await Http.CreateNamespaceAsync(ns);
        var ingresses = $"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses";
        var (code, status) = await Http.PostJsonAsync(ingresses, """
            {"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"bad"},
             "spec":{"rules":[{"host":"*.*.example.com","http":{"paths":[{"path":"foo","backend":{"service":{"name":"web","port":{"number":80,"name":"http"}}}}]}}]}}
            """);
        Assert.Equal(422, code);
        Assert.Equal(
        [
            ("FieldValueInvalid", "spec.rules[0].host", "Invalid value: \"*.*.example.com\": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
            ("FieldValueRequired", "spec.rules[0].http.paths[0].pathType", "Required value: pathType must be specified"),
        ], Causes(status));
        Assert.StartsWith("Ingress.networking.k8s.io \"bad\" is invalid: [", status!["message"]!.GetValue<string>(), StringComparison.Ordinal);

        (code, var ing) = await Http.PostJsonAsync(ingresses, """
            {"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"good"},
             "spec":{"defaultBackend":{"service":{"name":"web","port":{"name":"http"}}}}}
            """);
        Assert.Equal(201, code);
        var badStatus = ing!.DeepClone();
        badStatus["status"] = JsonNode.Parse("""{"loadBalancer":{"ingress":[{"ip":"300.1.1.1"},{"hostname":"1.2.3.4"}]}}""");
        (code, status) = await Http.SendJsonAsync(HttpMethod.Put, ingresses + "/good/status", badStatus.ToJsonString());
        Assert.Equal(422, code);
        Assert.Equal(
        [
            ("FieldValueInvalid", "status.loadBalancer.ingress[0].ip", "Invalid value: \"300.1.1.1\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
            ("FieldValueInvalid", "status.loadBalancer.ingress[1].hostname", "Invalid value: \"1.2.3.4\": must be a DNS name, not an IP address"),
        ], Causes(status));

        var goodStatus = ing.DeepClone();
        goodStatus["status"] = JsonNode.Parse("""{"loadBalancer":{"ingress":[{"ip":"192.0.2.10"}]}}""");
        (code, var updated) = await Http.SendJsonAsync(HttpMethod.Put, ingresses + "/good/status", goodStatus.ToJsonString());
        Assert.Equal(200, code);
        Assert.Equal("192.0.2.10", updated!["status"]!["loadBalancer"]!["ingress"]![0]!["ip"]!.GetValue<string>());
        Assert.Equal(1, updated["metadata"]!["generation"]!.GetValue<long>());
    }

    [Fact]
    public async Task IngressClass_ControllerImmutable()
    {
        var name = ApiServerFixture.UniqueName("cls");
        const string Classes = "/apis/networking.k8s.io/v1/ingressclasses";
        var (code, _) = await Http.PostJsonAsync(Classes, """{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"NAME"},"spec":{"controller":"example.com/a"}}""".Replace("NAME", name, StringComparison.Ordinal));
        Assert.Equal(201, code);
        (code, var status) = await Http.SendJsonAsync(HttpMethod.Put, Classes + "/" + name, """{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"NAME"},"spec":{"controller":"example.com/b"}}""".Replace("NAME", name, StringComparison.Ordinal));
        Assert.Equal(422, code);
        Assert.Equal([("FieldValueInvalid", "spec.controller", "Invalid value: \"example.com/b\": field is immutable")], Causes(status));
        (code, status) = await Http.PostJsonAsync(Classes, """{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"no-controller"},"spec":{}}""");
        Assert.Equal(422, code);
        Assert.Equal("IngressClass.networking.k8s.io \"no-controller\" is invalid: spec.controller: Required value", status!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task EndpointSlice_DefaultsValidationAndGeneration()
    {
        var ns = ApiServerFixture.UniqueName("eps");
        await Http.CreateNamespaceAsync(ns);
        var slices = $"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices";
        var (code, status) = await Http.PostJsonAsync(slices, """
            {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"bad"},"addressType":"IPv4",
             "endpoints":[{"addresses":["127.0.0.1","169.254.1.1"]}],"ports":[{"name":"http","port":80}]}
            """);
        Assert.Equal(422, code);
        Assert.Equal(
        [
            ("FieldValueInvalid", "endpoints[0].addresses[0]", "Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"),
            ("FieldValueInvalid", "endpoints[0].addresses[1]", "Invalid value: \"169.254.1.1\": may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
        ], Causes(status));

        (code, var slice) = await Http.PostJsonAsync(slices, """
            {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-abc","labels":{"kubernetes.io/service-name":"web"}},
             "addressType":"IPv4","endpoints":[{"addresses":["10.1.0.5"],"deprecatedTopology":{"kubernetes.io/hostname":"n1"}}],"ports":[{"port":80}]}
            """);
        Assert.Equal(201, code);
        Assert.Equal("""[{"name":"","port":80,"protocol":"TCP"}]""", slice!["ports"]!.ToJsonString());
        Assert.Null(slice["endpoints"]![0]!["deprecatedTopology"]);
        Assert.Equal(1, slice["metadata"]!["generation"]!.GetValue<long>());

        slice["metadata"]!["labels"]!["extra"] = "1";
        (code, var relabelled) = await Http.SendJsonAsync(HttpMethod.Put, slices + "/web-abc", slice.ToJsonString());
        Assert.Equal(200, code);
        Assert.Equal(2, relabelled!["metadata"]!["generation"]!.GetValue<long>());

        relabelled["addressType"] = "IPv6";
        relabelled["endpoints"] = JsonNode.Parse("""[{"addresses":["2001:db8::5"]}]""");
        (code, status) = await Http.SendJsonAsync(HttpMethod.Put, slices + "/web-abc", relabelled.ToJsonString());
        Assert.Equal(422, code);
        Assert.Equal([("FieldValueInvalid", "addressType", "Invalid value: \"IPv6\": field is immutable")], Causes(status));
    }

    [Fact]
    public async Task Pod_NetworkingFields_ValidatedAndHostNetworkPortsDefaulted()
    {
        var ns = ApiServerFixture.UniqueName("pod");
        await Http.CreateNamespaceAsync(ns);
        var pods = $"/api/v1/namespaces/{ns}/pods";
        var (code, status) = await Http.PostJsonAsync(pods, """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad"},
             "spec":{"hostname":"Bad_Host","dnsPolicy":"None","containers":[{"name":"c","image":"nginx",
               "ports":[{"name":"http","containerPort":80},{"name":"http","containerPort":70000}]}]}}
            """);
        Assert.Equal(422, code);
        Assert.Equal(
        [
            ("FieldValueDuplicate", "spec.containers[0].ports[1].name", "Duplicate value: \"http\""),
            ("FieldValueInvalid", "spec.containers[0].ports[1].containerPort", "Invalid value: 70000: must be between 1 and 65535, inclusive"),
            ("FieldValueRequired", "spec.dnsConfig", "Required value: must provide `dnsConfig` when `dnsPolicy` is None"),
            ("FieldValueInvalid", "spec.hostname", "Invalid value: \"Bad_Host\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
        ], Causes(status));

        (code, var pod) = await Http.PostJsonAsync(pods, """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"hostnet"},
             "spec":{"hostNetwork":true,"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":8080}]}]}}
            """);
        Assert.Equal(201, code);
        Assert.Equal("""[{"containerPort":8080,"hostPort":8080,"protocol":"TCP"}]""", pod!["spec"]!["containers"]![0]!["ports"]!.ToJsonString());
    }

    [Fact]
    public async Task Node_PodCidrs_ValidatedAndImmutableOnceSet()
    {
        var name = ApiServerFixture.UniqueName("node");
        const string Nodes = "/api/v1/nodes";
        var (code, status) = await Http.PostJsonAsync(Nodes, """{"apiVersion":"v1","kind":"Node","metadata":{"name":"NAME-bad"},"spec":{"podCIDRs":["10.244.1.0/24","10.245.1.0/24"]}}""".Replace("NAME", name, StringComparison.Ordinal));
        Assert.Equal(422, code);
        Assert.Equal([("FieldValueInvalid", "spec.podCIDRs", "Invalid value: []string{\"10.244.1.0/24\", \"10.245.1.0/24\"}: may specify no more than one CIDR for each IP family")], Causes(status));

        (code, var node) = await Http.PostJsonAsync(Nodes, """{"apiVersion":"v1","kind":"Node","metadata":{"name":"NAME"},"spec":{}}""".Replace("NAME", name, StringComparison.Ordinal));
        Assert.Equal(201, code);
        node!["spec"] = JsonNode.Parse("""{"podCIDR":"10.244.1.0/24"}""");
        (code, node) = await Http.SendJsonAsync(HttpMethod.Put, Nodes + "/" + name, node.ToJsonString());
        Assert.Equal(200, code);
        Assert.Equal("""{"podCIDR":"10.244.1.0/24","podCIDRs":["10.244.1.0/24"]}""", node!["spec"]!.ToJsonString());

        node["spec"] = JsonNode.Parse("""{"podCIDR":"10.244.2.0/24","podCIDRs":["10.244.2.0/24","fd00:10:244:2::/64"]}""");
        (code, status) = await Http.SendJsonAsync(HttpMethod.Put, Nodes + "/" + name, node.ToJsonString());
        Assert.Equal(422, code);
        Assert.Equal([("FieldValueForbidden", "spec.podCIDRs", "Forbidden: node updates may not change podCIDR except from \"\" to valid")], Causes(status));
    }
}
