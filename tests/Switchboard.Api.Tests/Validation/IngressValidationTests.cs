using k8s.Models;
using Switchboard.Api.Validation;
using static Switchboard.Api.Tests.Validation.Messages;

namespace Switchboard.Api.Tests.Validation;

/// <summary>Cases after pkg/apis/networking/validation/validation_test.go (TestValidateIngress*, IngressClass).</summary>
public class IngressValidationTests
{
    private static V1IngressBackend Svc(string name = "default-backend", int? number = 80, string? portName = null) =>
        new() { Service = new V1IngressServiceBackend { Name = name, Port = new V1ServiceBackendPort { Number = number, Name = portName } } };

    private static V1Ingress Ingress(Action<V1IngressSpec>? edit = null)
    {
        var spec = new V1IngressSpec
        {
            DefaultBackend = Svc(),
            Rules =
            [
                new V1IngressRule
                {
                    Host = "foo.bar.com",
                    Http = new V1HTTPIngressRuleValue { Paths = [new V1HTTPIngressPath { Path = "/foo", PathType = "ImplementationSpecific", Backend = Svc() }] },
                },
            ],
        };
        edit?.Invoke(spec);
        return new V1Ingress { Metadata = new V1ObjectMeta { Name = "foo", NamespaceProperty = "default" }, Spec = spec };
    }

    private static V1HTTPIngressPath PathOf(V1IngressSpec s) => s.Rules[0].Http.Paths[0];

    [Fact]
    public void ValidateCreate_BaseIngress_Valid() => Assert.Empty(IngressValidation.ValidateCreate(Ingress()));

    public static TheoryData<string, Action<V1IngressSpec>> ValidSpecs() => new()
    {
        { "wildcard host", s => s.Rules[0].Host = "*.bar.com" },
        { "no host", s => s.Rules[0].Host = null },
        { "rules only", s => s.DefaultBackend = null },
        { "default backend only", s => s.Rules = null },
        { "exact path", s => PathOf(s).PathType = "Exact" },
        { "prefix root", s => (PathOf(s).PathType, PathOf(s).Path) = ("Prefix", "/") },
        { "implementation specific empty path", s => PathOf(s).Path = "" },
        { "implementation specific regex-ish path", s => PathOf(s).Path = "/foo/.*(bar)" },
        { "port name", s => s.DefaultBackend = Svc(number: null, portName: "http") },
        { "resource backend", s => s.DefaultBackend = new V1IngressBackend { Resource = new V1TypedLocalObjectReference { ApiGroup = "example.com", Kind = "foo", Name = "bar" } } },
        { "tls wildcard", s => s.Tls = [new V1IngressTLS { Hosts = ["*.bar.com", "foo.bar.com"], SecretName = "tls-secret" }] },
        { "tls without secret", s => s.Tls = [new V1IngressTLS { Hosts = ["foo.bar.com"] }] },
        { "class name", s => s.IngressClassName = "nginx.example.com" },
    };

    [Theory]
    [MemberData(nameof(ValidSpecs))]
    public void ValidateCreate_ValidVariants_NoErrors(string name, Action<V1IngressSpec> edit)
    {
        Assert.NotNull(name);
        Assert.Empty(IngressValidation.ValidateCreate(Ingress(edit)));
    }

    public static TheoryData<string, Action<V1IngressSpec>, string[]> InvalidSpecs() => new()
    {
        { "no rules, no default backend", s => (s.Rules, s.DefaultBackend) = (null, null),
            ["spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"] },
        { "empty rules, no default backend", s => (s.Rules, s.DefaultBackend) = (new List<V1IngressRule>(), null),
            ["spec: Invalid value: []networking.IngressRule{}: either `defaultBackend` or `rules` must be specified"] },
        { "host is an IP", s => s.Rules[0].Host = "1.2.3.4",
            ["spec.rules[0].host: Invalid value: \"1.2.3.4\": must be a DNS name, not an IP address"] },
        { "host is an IPv6", s => s.Rules[0].Host = "::1", [
            "spec.rules[0].host: Invalid value: \"::1\": must be a DNS name, not an IP address",
            "spec.rules[0].host: Invalid value: \"::1\": " + Dns1123Subdomain] },
        { "host with port", s => s.Rules[0].Host = "foo.bar.com:80", ["spec.rules[0].host: Invalid value: \"foo.bar.com:80\": " + Dns1123Subdomain] },
        { "wildcard not first label", s => s.Rules[0].Host = "foo.*.bar.com", ["spec.rules[0].host: Invalid value: \"foo.*.bar.com\": " + Wildcard] },
        { "wildcard partial label", s => s.Rules[0].Host = "*foo.bar.com", ["spec.rules[0].host: Invalid value: \"*foo.bar.com\": " + Wildcard] },
        { "lone wildcard", s => s.Rules[0].Host = "*", ["spec.rules[0].host: Invalid value: \"*\": " + Wildcard] },
        { "http without paths", s => s.Rules[0].Http.Paths = [], ["spec.rules[0].http.paths: Required value"] },
        { "missing pathType", s => PathOf(s).PathType = null, ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"] },
        { "unknown pathType", s => PathOf(s).PathType = "Regex",
            ["spec.rules[0].http.paths[0].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""] },
        { "exact relative path", s => (PathOf(s).PathType, PathOf(s).Path) = ("Exact", "foo"), ["spec.rules[0].http.paths[0].path: Invalid value: \"foo\": must be an absolute path"] },
        { "prefix empty path", s => (PathOf(s).PathType, PathOf(s).Path) = ("Prefix", ""), ["spec.rules[0].http.paths[0].path: Invalid value: \"\": must be an absolute path"] },
        { "prefix double slash", s => (PathOf(s).PathType, PathOf(s).Path) = ("Prefix", "/foo//bar"), ["spec.rules[0].http.paths[0].path: Invalid value: \"/foo//bar\": must not contain '//'"] },
        { "exact dot segment", s => (PathOf(s).PathType, PathOf(s).Path) = ("Exact", "/foo/./bar"), ["spec.rules[0].http.paths[0].path: Invalid value: \"/foo/./bar\": must not contain '/./'"] },
        { "exact dot-dot segment", s => (PathOf(s).PathType, PathOf(s).Path) = ("Exact", "/foo/../bar"), ["spec.rules[0].http.paths[0].path: Invalid value: \"/foo/../bar\": must not contain '/../'"] },
        { "prefix encoded slash", s => (PathOf(s).PathType, PathOf(s).Path) = ("Prefix", "/foo%2Fbar"), ["spec.rules[0].http.paths[0].path: Invalid value: \"/foo%2Fbar\": must not contain '%2F'"] },
        { "prefix ends with dot-dot", s => (PathOf(s).PathType, PathOf(s).Path) = ("Prefix", "/foo/.."), ["spec.rules[0].http.paths[0].path: Invalid value: \"/foo/..\": cannot end with '/..'"] },
        { "prefix ends with dot", s => (PathOf(s).PathType, PathOf(s).Path) = ("Prefix", "/foo/."), ["spec.rules[0].http.paths[0].path: Invalid value: \"/foo/.\": cannot end with '/.'"] },
        { "implementation specific relative", s => PathOf(s).Path = "foo", ["spec.rules[0].http.paths[0].path: Invalid value: \"foo\": must be an absolute path"] },
        { "both service and resource", s => s.DefaultBackend.Resource = new V1TypedLocalObjectReference { Kind = "foo", Name = "bar" },
            ["spec.defaultBackend: Invalid value: \"\": cannot set both resource and service backends"] },
        { "no backend", s => PathOf(s).Backend = new V1IngressBackend(), ["spec.rules[0].http.paths[0].backend: Invalid value: \"\": resource or service backend is required"] },
        { "port name and number", s => s.DefaultBackend = Svc(number: 80, portName: "http"), ["spec.defaultBackend: Invalid value: \"\": cannot set both port name & port number"] },
        { "no port", s => s.DefaultBackend = Svc(number: null), ["spec.defaultBackend: Required value: port name or number is required"] },
        { "bad port number", s => s.DefaultBackend = Svc(number: 65536), ["spec.defaultBackend.service.port.number: Invalid value: 65536: " + PortRange] },
        { "bad port name", s => s.DefaultBackend = Svc(number: null, portName: "HTTP"),
            ["spec.defaultBackend.service.port.name: Invalid value: \"HTTP\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
             "spec.defaultBackend.service.port.name: Invalid value: \"HTTP\": must contain at least one letter (a-z)"] },
        { "missing service name", s => s.DefaultBackend = Svc(name: ""), ["spec.defaultBackend.service.name: Required value"] },
        { "service name not DNS-1035", s => s.DefaultBackend = Svc(name: "1-svc"), ["spec.defaultBackend.service.name: Invalid value: \"1-svc\": " + Dns1035Label] },
        { "resource without kind and name", s => s.DefaultBackend = new V1IngressBackend { Resource = new V1TypedLocalObjectReference() },
            ["spec.defaultBackend.resource.kind: Required value", "spec.defaultBackend.resource.name: Required value"] },
        { "resource bad segments", s => s.DefaultBackend = new V1IngressBackend { Resource = new V1TypedLocalObjectReference { ApiGroup = "Example.com", Kind = "a/b", Name = ".." } }, [
            "spec.defaultBackend.resource.apiGroup: Invalid value: \"Example.com\": " + Dns1123Subdomain,
            "spec.defaultBackend.resource.kind: Invalid value: \"a/b\": may not contain '/'",
            "spec.defaultBackend.resource.name: Invalid value: \"..\": may not be '..'"] },
        { "tls bad wildcard", s => s.Tls = [new V1IngressTLS { Hosts = ["foo.*.bar.com"] }], ["spec.tls[0].hosts[0]: Invalid value: \"foo.*.bar.com\": " + Wildcard] },
        { "tls bad host", s => s.Tls = [new V1IngressTLS { Hosts = ["Foo.com"] }], ["spec.tls[0].hosts[0]: Invalid value: \"Foo.com\": " + Dns1123Subdomain] },
        { "tls bad secret name", s => s.Tls = [new V1IngressTLS { SecretName = "Bad_Secret" }], ["spec.tls[0].secretName: Invalid value: \"Bad_Secret\": " + Dns1123Subdomain] },
        { "bad class name", s => s.IngressClassName = "Bad", ["spec.ingressClassName: Invalid value: \"Bad\": " + Dns1123Subdomain] },
    };

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public void ValidateCreate_UpstreamErrorCases_ExactFieldAndMessage(string name, Action<V1IngressSpec> edit, string[] expected)
    {
        Assert.NotNull(name);
        AssertErrors(IngressValidation.ValidateCreate(Ingress(edit)), expected);
    }

    [Fact]
    public void ValidateCreate_ClassAnnotationDisagreesWithField_Invalid()
    {
        var ingress = Ingress(s => s.IngressClassName = "nginx");
        ingress.Metadata.Annotations = new Dictionary<string, string> { ["kubernetes.io/ingress.class"] = "traefik" };
        AssertErrors(IngressValidation.ValidateCreate(ingress),
            "annotations.kubernetes.io/ingress.class: Invalid value: \"traefik\": must match `ingressClassName` when both are specified");
        // Only creates are checked.
        Assert.Empty(IngressValidation.ValidateUpdate(ingress, ingress));
    }

    [Fact]
    public void ValidateUpdate_OldInvalidSecretName_Ratchets()
    {
        var old = Ingress(s => s.Tls = [new V1IngressTLS { SecretName = "Bad_Secret" }]);
        Assert.Empty(IngressValidation.ValidateUpdate(Ingress(s => s.Tls = [new V1IngressTLS { SecretName = "Still_Bad" }]), old));
        Assert.Single(IngressValidation.ValidateUpdate(Ingress(s => s.Tls = [new V1IngressTLS { SecretName = "Still_Bad" }]), Ingress()));
    }

    [Fact]
    public void ValidateUpdate_OldInvalidWildcardRule_Ratchets()
    {
        static void BadWildcardRule(V1IngressSpec s) => (s.Rules[0].Host, PathOf(s).PathType, PathOf(s).Path) = ("*.bar.com", "Exact", "foo");
        Assert.Single(IngressValidation.ValidateCreate(Ingress(BadWildcardRule)));
        Assert.Empty(IngressValidation.ValidateUpdate(Ingress(BadWildcardRule), Ingress(BadWildcardRule)));
    }

    [Fact]
    public void ValidateStatusUpdate_LoadBalancerPoints_UpstreamMessages()
    {
        var old = Ingress();
        old.Status = new V1IngressStatus { LoadBalancer = new V1IngressLoadBalancerStatus { Ingress = [new V1IngressLoadBalancerIngress { Ip = "010.1.1.1" }] } };
        var updated = Ingress();
        updated.Status = new V1IngressStatus
        {
            LoadBalancer = new V1IngressLoadBalancerStatus
            {
                Ingress =
                [
                    new V1IngressLoadBalancerIngress { Ip = "010.1.1.1" },
                    new V1IngressLoadBalancerIngress { Ip = "1.2.3" },
                    new V1IngressLoadBalancerIngress { Hostname = "10.1.1.1" },
                    new V1IngressLoadBalancerIngress { Hostname = "Bad_Host" },
                    new V1IngressLoadBalancerIngress { Ip = "10.0.0.1", Hostname = "lb.example.com" },
                ],
            },
        };
        AssertErrors(IngressValidation.ValidateStatusUpdate(updated, old),
            "status.loadBalancer.ingress[1].ip: Invalid value: \"1.2.3\": " + InvalidIP,
            "status.loadBalancer.ingress[2].hostname: Invalid value: \"10.1.1.1\": must be a DNS name, not an IP address",
            "status.loadBalancer.ingress[3].hostname: Invalid value: \"Bad_Host\": " + Dns1123Subdomain);
    }

    private static V1IngressClass Class(string name, DateTime created, bool isDefault = true, string value = "true") => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = name,
            CreationTimestamp = created,
            Annotations = isDefault ? new Dictionary<string, string> { [IngressValidation.IsDefaultClassAnnotation] = value } : null,
        },
        Spec = new V1IngressClassSpec { Controller = "example.com/ingress" },
    };

    [Fact]
    public void PickDefaultClass_SeveralDefaults_NewestWinsThenSmallerName()
    {
        var t0 = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        Assert.Null(IngressValidation.PickDefaultClass([Class("a", t0, isDefault: false), Class("b", t0, value: "True")]));
        Assert.Equal("new", IngressValidation.PickDefaultClass([Class("old", t0), Class("new", t0.AddSeconds(1)), Class("none", t0.AddDays(1), isDefault: false)])!.Metadata.Name);
        Assert.Equal("alpha", IngressValidation.PickDefaultClass([Class("beta", t0), Class("alpha", t0)])!.Metadata.Name);
    }

    [Fact]
    public void WantsDefaultClass_OnlyWithoutFieldAndLegacyAnnotation()
    {
        Assert.True(IngressValidation.WantsDefaultClass(Ingress()));
        Assert.False(IngressValidation.WantsDefaultClass(Ingress(s => s.IngressClassName = "")));
        var annotated = Ingress();
        annotated.Metadata.Annotations = new Dictionary<string, string> { ["kubernetes.io/ingress.class"] = "nginx" };
        Assert.False(IngressValidation.WantsDefaultClass(annotated));
    }
}

public class IngressClassValidationTests
{
    private static V1IngressClass Class(string controller = "foo.co/bar", V1IngressClassParametersReference? parameters = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "test123" },
        Spec = new V1IngressClassSpec { Controller = controller, Parameters = parameters },
    };

    private static V1IngressClassParametersReference Params(string? kind = "foo", string? name = "bar", string? scope = "Cluster", string? ns = null, string? group = "example.com") =>
        new() { ApiGroup = group, Kind = kind, Name = name, Scope = scope, NamespaceProperty = ns };

    public static TheoryData<string, V1IngressClass, string[]> Cases() => new()
    {
        { "valid", Class(), [] },
        { "valid cluster parameters", Class(parameters: Params()), [] },
        { "valid namespace parameters", Class(parameters: Params(scope: "Namespace", ns: "foo-ns")), [] },
        { "valid controller with path", Class("example.com/ingress/v1"), [] },
        { "missing controller", Class(""), ["spec.controller: Required value"] },
        { "controller without domain", Class("foo"), ["spec.controller: Invalid value: \"foo\": must be a domain-prefixed path (such as \"acme.io/foo\")"] },
        { "controller bad domain", Class("Foo.co/bar"), ["spec.controller: Invalid value: \"Foo.co\": " + Dns1123Subdomain] },
        { "controller too long", Class("foo.co/" + new string('a', 244)), ["spec.controller: Too long: may not be more than 250 bytes"] },
        { "parameters missing kind and name", Class(parameters: Params(kind: null, name: null)),
            ["spec.parameters.kind: Required value", "spec.parameters.name: Required value"] },
        { "parameters bad api group", Class(parameters: Params(group: "Bad")), ["spec.parameters.apiGroup: Invalid value: \"Bad\": " + Dns1123Subdomain] },
        { "parameters bad kind", Class(parameters: Params(kind: "foo%bar")), ["spec.parameters.kind: Invalid value: \"foo%bar\": may not contain '%'"] },
        { "parameters bad scope", Class(parameters: Params(scope: "Global")),
            ["spec.parameters.scope: Unsupported value: \"Global\": supported values: \"Cluster\", \"Namespace\""] },
        { "parameters namespace scope without namespace", Class(parameters: Params(scope: "Namespace")),
            ["spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"] },
        { "parameters namespace scope bad namespace", Class(parameters: Params(scope: "Namespace", ns: "Foo.Ns")),
            ["spec.parameters.namespace: Invalid value: \"Foo.Ns\": " + Dns1123Label] },
        { "parameters cluster scope with namespace", Class(parameters: Params(ns: "foo-ns")),
            ["spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"] },
        { "parameters without scope", Class(parameters: Params(scope: null)), ["spec.parameters.scope: Required value"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Validate_UpstreamCases_ExactFieldAndMessage(string name, V1IngressClass ingressClass, string[] expected)
    {
        Assert.NotNull(name);
        AssertErrors(IngressClassValidation.Validate(ingressClass), expected);
    }

    [Fact]
    public void ValidateUpdate_ControllerChanged_Immutable()
    {
        AssertErrors(IngressClassValidation.ValidateUpdate(Class("foo.co/baz"), Class()), "spec.controller: Invalid value: \"foo.co/baz\": field is immutable");
        Assert.Empty(IngressClassValidation.ValidateUpdate(Class(parameters: Params()), Class()));
    }
}
