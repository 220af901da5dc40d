using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Switchboard.E2E.Infrastructure;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Switchboard.E2E;

/// <summary>
/// Issue 3, "Done when" third bullet: the real kubectl applies (`kubectl apply -f`) our own equivalents of the
/// manifests shown in the Kubernetes documentation pages Service, IPv4/IPv6 dual-stack, Ingress and Network Policies
/// (kubernetes/website content/en/docs/concepts/services-networking/{service,dual-stack,ingress,network-policies}.md)
/// and checks each stored object field by field (`kubectl get -o json`) against what upstream v1.33 stores: the
/// defaults (SetDefaults_Service, SetDefaults_NetworkPolicy, SetDefaults_EndpointPort, SetDefaults_IngressClass, the
/// DefaultIngressClass admission plugin) and the allocated fields (clusterIPs from 10.96.0.0/12 and
/// fd00:10:96::/112, dynamic picks in the upper band of KEP-3070; nodePorts from 30000-32767, dynamic picks in
/// the upper band 30087-32767 of KEP-3668). Manifests the pages say a cluster rejects are checked for
/// upstream's field path and message (pkg/apis/core/validation, pkg/apis/networking/validation,
/// pkg/registry/core/service/storage/alloc.go).
/// Whole objects are compared (apart from metadata, checked separately), so a missing default or an extra
/// field fails as well as a wrong value.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class NetworkingManifestsTests(SwitchboardServerFixture server, ITestOutputHelper output) : KubectlTestBase(server, output)
{
    private const string LastApplied = "kubectl.kubernetes.io/last-applied-configuration";

    // ---------------------------------------------------------------------------------------------------------
    // Service page: "Defining a Service", "Port definitions" (named targetPort), defaults.
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Service_SelectorAndNamedTargetPort_StoredWithUpstreamDefaults()
    {
        var ns = await NewNamespaceAsync("svc-basic");
        await ApplyAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: my-service
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - protocol: TCP
                  port: 80
                  targetPort: 9376
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: nginx
              labels:
                app.kubernetes.io/name: proxy
            spec:
              containers:
              - name: nginx
                image: nginx:stable
                ports:
                  - containerPort: 80
                    name: http-web-svc
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: nginx-service
            spec:
              selector:
                app.kubernetes.io/name: proxy
              ports:
              - name: name-of-service-port
                protocol: TCP
                port: 80
                targetPort: http-web-svc
            ---
            # No protocol, no targetPort: upstream defaults protocol TCP and targetPort = port.
            apiVersion: v1
            kind: Service
            metadata:
              name: bare-defaults
              labels:
                tier: backend
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 8080
            """,
            "service/my-service created", "pod/nginx created", "service/nginx-service created", "service/bare-defaults created");

        var svc = await GetAsync(ns, "service", "my-service");
        AssertMetadata(svc, ns, "my-service", generation: null);
        var ip = DynamicV4(svc["spec"]?["clusterIP"], "my-service spec.clusterIP");
        AssertStored(svc, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "port": 80, "protocol": "TCP", "targetPort": 9376 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "ClusterIP"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service my-service");

        var named = await GetAsync(ns, "service", "nginx-service");
        AssertMetadata(named, ns, "nginx-service", generation: null);
        ip = DynamicV4(named["spec"]?["clusterIP"], "nginx-service spec.clusterIP");
        AssertStored(named, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "name": "name-of-service-port", "port": 80, "protocol": "TCP", "targetPort": "http-web-svc" }],
                "selector": { "app.kubernetes.io/name": "proxy" },
                "sessionAffinity": "None",
                "type": "ClusterIP"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service nginx-service");

        var bare = await GetAsync(ns, "service", "bare-defaults");
        AssertMetadata(bare, ns, "bare-defaults", generation: null, labels: """{ "tier": "backend" }""");
        ip = DynamicV4(bare["spec"]?["clusterIP"], "bare-defaults spec.clusterIP");
        AssertStored(bare, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "port": 8080, "protocol": "TCP", "targetPort": 8080 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "ClusterIP"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service bare-defaults");

        // The Pod's named port the Service refers to (SetDefaults_ContainerPort: protocol TCP).
        var pod = await GetAsync(ns, "pod", "nginx");
        AssertJson(pod["spec"]?["containers"]?[0]?["ports"], """
            [{ "containerPort": 80, "name": "http-web-svc", "protocol": "TCP" }]
            """, "pod nginx spec.containers[0].ports");
    }

    [Fact]
    public async Task Service_MultiPortAndAppProtocol_StoredAsWrittenWithDefaults()
    {
        var ns = await NewNamespaceAsync("svc-multi");
        await ApplyAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: my-service
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - name: http
                  protocol: TCP
                  port: 80
                  targetPort: 9376
                  appProtocol: http
                - name: https
                  protocol: TCP
                  port: 443
                  targetPort: 9377
                  appProtocol: https
                - name: h2c
                  port: 8080
                  targetPort: 8080
                  appProtocol: kubernetes.io/h2c
                - name: custom
                  protocol: UDP
                  port: 9000
                  appProtocol: mycompany.com/my-custom-protocol
                - name: 123-abc
                  protocol: SCTP
                  port: 9001
            """, "service/my-service created");

        var svc = await GetAsync(ns, "service", "my-service");
        AssertMetadata(svc, ns, "my-service", generation: null);
        var ip = DynamicV4(svc["spec"]?["clusterIP"], "spec.clusterIP");
        AssertStored(svc, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [
                  { "appProtocol": "http", "name": "http", "port": 80, "protocol": "TCP", "targetPort": 9376 },
                  { "appProtocol": "https", "name": "https", "port": 443, "protocol": "TCP", "targetPort": 9377 },
                  { "appProtocol": "kubernetes.io/h2c", "name": "h2c", "port": 8080, "protocol": "TCP", "targetPort": 8080 },
                  { "appProtocol": "mycompany.com/my-custom-protocol", "name": "custom", "port": 9000, "protocol": "UDP", "targetPort": 9000 },
                  { "name": "123-abc", "port": 9001, "protocol": "SCTP", "targetPort": 9001 }
                ],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "ClusterIP"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service my-service");

        // "When using multiple ports for a Service, you must give all of your ports names" (validateServicePort:
        // field.Required(name) when there is more than one port).
        await AssertRejectedAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: unnamed-ports
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 80
                - port: 443
            """,
            "spec.ports[0].name: Required value",
            "spec.ports[1].name: Required value");

        // "123_abc and -web are not [valid port names]" (IsDNS1123Label).
        await AssertRejectedAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: bad-port-names
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - name: 123_abc
                  port: 80
                - name: -web
                  port: 443
            """,
            "spec.ports[0].name: Invalid value: \"123_abc\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
            "spec.ports[1].name: Invalid value: \"-web\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character");
        await AssertAbsentAsync(ns, "service", "unnamed-ports");
        await AssertAbsentAsync(ns, "service", "bad-port-names");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Service page: "type: NodePort", "Choosing your own port".
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Service_NodePort_ChosenPortHonouredOthersAllocatedFromUpperBand()
    {
        var ns = await NewNamespaceAsync("svc-nodeport");
        await ApplyAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: my-service
            spec:
              type: NodePort
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 80
                  targetPort: 80
                  nodePort: 30007
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: dynamic
            spec:
              type: NodePort
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 80
            ---
            # One port number over TCP and UDP: upstream allocates one nodePort for both (alloc.go initNodePorts).
            apiVersion: v1
            kind: Service
            metadata:
              name: dns
            spec:
              type: NodePort
              selector:
                app.kubernetes.io/name: dns
              ports:
                - name: dns-tcp
                  protocol: TCP
                  port: 53
                - name: dns-udp
                  protocol: UDP
                  port: 53
            """, "service/my-service created", "service/dynamic created", "service/dns created");

        var svc = await GetAsync(ns, "service", "my-service");
        AssertMetadata(svc, ns, "my-service", generation: null);
        var ip = DynamicV4(svc["spec"]?["clusterIP"], "my-service spec.clusterIP");
        AssertStored(svc, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "nodePort": 30007, "port": 80, "protocol": "TCP", "targetPort": 80 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "NodePort"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service my-service");

        var dynamic = await GetAsync(ns, "service", "dynamic");
        ip = DynamicV4(dynamic["spec"]?["clusterIP"], "dynamic spec.clusterIP");
        var np = DynamicNodePort(dynamic["spec"]?["ports"]?[0]?["nodePort"], "dynamic spec.ports[0].nodePort");
        AssertStored(dynamic, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "nodePort": {{np}}, "port": 80, "protocol": "TCP", "targetPort": 80 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "NodePort"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service dynamic");

        var dns = await GetAsync(ns, "service", "dns");
        ip = DynamicV4(dns["spec"]?["clusterIP"], "dns spec.clusterIP");
        var shared = DynamicNodePort(dns["spec"]?["ports"]?[0]?["nodePort"], "dns spec.ports[0].nodePort");
        AssertStored(dns, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [
                  { "name": "dns-tcp", "nodePort": {{shared}}, "port": 53, "protocol": "TCP", "targetPort": 53 },
                  { "name": "dns-udp", "nodePort": {{shared}}, "port": 53, "protocol": "UDP", "targetPort": 53 }
                ],
                "selector": { "app.kubernetes.io/name": "dns" },
                "sessionAffinity": "None",
                "type": "NodePort"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service dns");

        // "The control plane will either allocate you that port or report that the API transaction failed" and
        // "you also have to use a valid port number, one that's inside the range configured for NodePort use".
        await AssertRejectedAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: taken-port
            spec:
              type: NodePort
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 80
                  nodePort: 30007
            """, "spec.ports[0].nodePort: Invalid value: 30007: provided port is already allocated");
        await AssertRejectedAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: out-of-range-port
            spec:
              type: NodePort
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 80
                  nodePort: 80
            """, "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767");
        await AssertRejectedAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: clusterip-with-nodeport
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 80
                  nodePort: 30008
            """, "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'");
        await AssertAbsentAsync(ns, "service", "taken-port");
        await AssertAbsentAsync(ns, "service", "out-of-range-port");
        await AssertAbsentAsync(ns, "service", "clusterip-with-nodeport");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Service page: "type: LoadBalancer", "Disabling load balancer NodePort allocation", loadBalancerClass,
    // internal load balancer annotation, loadBalancerIP.
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Service_LoadBalancer_DefaultsNodePortsClassAndChosenClusterIp()
    {
        var ns = await NewNamespaceAsync("svc-lb");
        await ApplyAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: my-service
              annotations:
                service.beta.kubernetes.io/aws-load-balancer-internal: "true"
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - protocol: TCP
                  port: 80
                  targetPort: 9376
              clusterIP: 10.96.0.171
              loadBalancerIP: 192.0.2.127
              type: LoadBalancer
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: direct-to-pods
            spec:
              type: LoadBalancer
              allocateLoadBalancerNodePorts: false
              loadBalancerClass: example.com/internal-vip
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - protocol: TCP
                  port: 80
                  targetPort: 9376
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: local
            spec:
              type: LoadBalancer
              externalTrafficPolicy: Local
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 443
                  targetPort: 8443
            """, "service/my-service created", "service/direct-to-pods created", "service/local created");

        var svc = await GetAsync(ns, "service", "my-service");
        AssertMetadata(svc, ns, "my-service", generation: null, annotations: """{ "service.beta.kubernetes.io/aws-load-balancer-internal": "true" }""");
        var np = DynamicNodePort(svc["spec"]?["ports"]?[0]?["nodePort"], "my-service spec.ports[0].nodePort");
        AssertStored(svc, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "allocateLoadBalancerNodePorts": true,
                "clusterIP": "10.96.0.171", "clusterIPs": ["10.96.0.171"],
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "loadBalancerIP": "192.0.2.127",
                "ports": [{ "nodePort": {{np}}, "port": 80, "protocol": "TCP", "targetPort": 9376 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "LoadBalancer"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service my-service");

        var direct = await GetAsync(ns, "service", "direct-to-pods");
        var ip = DynamicV4(direct["spec"]?["clusterIP"], "direct-to-pods spec.clusterIP");
        AssertStored(direct, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "allocateLoadBalancerNodePorts": false,
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "loadBalancerClass": "example.com/internal-vip",
                "ports": [{ "port": 80, "protocol": "TCP", "targetPort": 9376 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "LoadBalancer"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service direct-to-pods");

        var local = await GetAsync(ns, "service", "local");
        ip = DynamicV4(local["spec"]?["clusterIP"], "local spec.clusterIP");
        np = DynamicNodePort(local["spec"]?["ports"]?[0]?["nodePort"], "local spec.ports[0].nodePort");
        var hc = DynamicNodePort(local["spec"]?["healthCheckNodePort"], "local spec.healthCheckNodePort");
        Assert.True(hc != np, $"healthCheckNodePort {hc} must differ from the service's nodePort {np}");
        AssertStored(local, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "allocateLoadBalancerNodePorts": true,
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "externalTrafficPolicy": "Local",
                "healthCheckNodePort": {{hc}},
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "nodePort": {{np}}, "port": 443, "protocol": "TCP", "targetPort": 8443 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "LoadBalancer"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service local");

        // The page's own example asks for clusterIP 10.0.171.239, outside this cluster's 10.96.0.0/12: upstream
        // v1.33 (MultiCIDRServiceAllocator GA, MetaAllocator.getAllocator → ErrMismatchedNetwork) rejects it.
        await AssertRejectedAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: docs-cluster-ip
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - protocol: TCP
                  port: 80
                  targetPort: 9376
              clusterIP: 10.0.171.239
              type: LoadBalancer
            """,
            "spec.clusterIPs: Invalid value: []string{\"10.0.171.239\"}: failed to allocate IP 10.0.171.239: the provided network does not match the current range");
        // "spec.loadBalancerClass can be set on a Service of type LoadBalancer only" (validateLoadBalancerClassField).
        await AssertRejectedAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: class-on-clusterip
            spec:
              loadBalancerClass: example.com/internal-vip
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 80
            """, "spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'");
        await AssertAbsentAsync(ns, "service", "docs-cluster-ip");
        await AssertAbsentAsync(ns, "service", "class-on-clusterip");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Service page: "type: ExternalName", "External IPs", "Headless Services".
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Service_ExternalNameExternalIpsAndHeadless_StoredAsUpstream()
    {
        var ns = await NewNamespaceAsync("svc-kinds");
        await ApplyAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: my-database
            spec:
              type: ExternalName
              externalName: my.database.example.com
            ---
            # "A Service of type: ExternalName accepts an IPv4 address string, but treats that string as a DNS name".
            apiVersion: v1
            kind: Service
            metadata:
              name: digits-name
            spec:
              type: ExternalName
              externalName: 192.0.2.10
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: external-ips
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - name: http
                  protocol: TCP
                  port: 80
                  targetPort: 49152
              externalIPs:
                - 198.51.100.32
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: headless
            spec:
              clusterIP: None
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 80
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: headless-no-selector
            spec:
              clusterIP: None
              ports:
                - port: 5432
            """,
            "service/my-database created", "service/digits-name created", "service/external-ips created",
            "service/headless created", "service/headless-no-selector created");

        var ext = await GetAsync(ns, "service", "my-database");
        AssertMetadata(ext, ns, "my-database", generation: null);
        AssertStored(ext, """
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": { "externalName": "my.database.example.com", "sessionAffinity": "None", "type": "ExternalName" },
              "status": { "loadBalancer": {} }
            }
            """, "service my-database");
        AssertStored(await GetAsync(ns, "service", "digits-name"), """
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": { "externalName": "192.0.2.10", "sessionAffinity": "None", "type": "ExternalName" },
              "status": { "loadBalancer": {} }
            }
            """, "service digits-name");

        // SetDefaults_Service: a ClusterIP Service with externalIPs is externally accessible, so
        // externalTrafficPolicy defaults to Cluster.
        var eips = await GetAsync(ns, "service", "external-ips");
        var ip = DynamicV4(eips["spec"]?["clusterIP"], "external-ips spec.clusterIP");
        AssertStored(eips, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "externalIPs": ["198.51.100.32"],
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "name": "http", "port": 80, "protocol": "TCP", "targetPort": 49152 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "ClusterIP"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service external-ips");

        // dual-stack.md: headless with selector → SingleStack, family of the first range.
        AssertStored(await GetAsync(ns, "service", "headless"), """
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "None", "clusterIPs": ["None"],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "port": 80, "protocol": "TCP", "targetPort": 80 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "ClusterIP"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service headless");
        // dual-stack.md "Headless Services without selector": ipFamilyPolicy defaults to RequireDualStack.
        AssertStored(await GetAsync(ns, "service", "headless-no-selector"), """
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "None", "clusterIPs": ["None"],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "RequireDualStack",
                "ports": [{ "port": 5432, "protocol": "TCP", "targetPort": 5432 }],
                "sessionAffinity": "None",
                "type": "ClusterIP"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service headless-no-selector");

        await AssertRejectedAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: no-external-name
            spec:
              type: ExternalName
            """, "spec.externalName: Required value");
        await AssertAbsentAsync(ns, "service", "no-external-name");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Service page: "Services without selectors" + the manual EndpointSlice.
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Service_WithoutSelectorAndManualEndpointSlice_StoredAsUpstream()
    {
        var ns = await NewNamespaceAsync("svc-noselector");
        await ApplyAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: my-service
            spec:
              ports:
                - protocol: TCP
                  port: 80
                  targetPort: 9376
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: my-service-1
              labels:
                kubernetes.io/service-name: my-service
                endpointslice.kubernetes.io/managed-by: staff
            addressType: IPv4
            ports:
              - name: ''
                appProtocol: http
                protocol: TCP
                port: 9376
            endpoints:
              - addresses:
                  - "10.4.5.6"
              - addresses:
                  - "10.1.2.3"
            ---
            # Port name and protocol omitted: SetDefaults_EndpointPort gives "" and TCP.
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: my-service-2
              labels:
                kubernetes.io/service-name: my-service
                endpointslice.kubernetes.io/managed-by: staff
            addressType: IPv4
            ports:
              - port: 9376
            endpoints:
              - addresses:
                  - "10.4.5.7"
                conditions:
                  ready: true
            """, "service/my-service created", "endpointslice.discovery.k8s.io/my-service-1 created", "endpointslice.discovery.k8s.io/my-service-2 created");

        var svc = await GetAsync(ns, "service", "my-service");
        var ip = DynamicV4(svc["spec"]?["clusterIP"], "spec.clusterIP");
        AssertStored(svc, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "port": 80, "protocol": "TCP", "targetPort": 9376 }],
                "sessionAffinity": "None",
                "type": "ClusterIP"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service my-service");

        var slice = await GetAsync(ns, "endpointslice", "my-service-1");
        AssertMetadata(slice, ns, "my-service-1", generation: 1,
            labels: """{ "kubernetes.io/service-name": "my-service", "endpointslice.kubernetes.io/managed-by": "staff" }""");
        // Endpoint.conditions is a struct without a pointer upstream, so encoding/json always writes it ({}).
        AssertStored(slice, """
            {
              "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "addressType": "IPv4",
              "endpoints": [
                { "addresses": ["10.4.5.6"], "conditions": {} },
                { "addresses": ["10.1.2.3"], "conditions": {} }
              ],
              "ports": [{ "appProtocol": "http", "name": "", "port": 9376, "protocol": "TCP" }]
            }
            """, "endpointslice my-service-1");
        AssertStored(await GetAsync(ns, "endpointslice", "my-service-2"), """
            {
              "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
              "addressType": "IPv4",
              "endpoints": [{ "addresses": ["10.4.5.7"], "conditions": { "ready": true } }],
              "ports": [{ "name": "", "port": 9376, "protocol": "TCP" }]
            }
            """, "endpointslice my-service-2");

        // "Because this Service has no selector, the corresponding EndpointSlice ... objects are not created
        // automatically": only the two manual slices carry the service-name label.
        var names = (await Kubectl.RunAsync("get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=my-service", "-o", "name")).ShouldSucceed();
        Assert.True(names.Lines.Order(StringComparer.Ordinal).SequenceEqual(
            ["endpointslice.discovery.k8s.io/my-service-1", "endpointslice.discovery.k8s.io/my-service-2"]),
            $"expected only the two manual EndpointSlices.\n{names}");

        // "The endpoint IPs must not be: loopback (127.0.0.0/8 ...), or link-local (169.254.0.0/16 ...)".
        await AssertRejectedAsync(ns, """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: my-service-bad
              labels:
                kubernetes.io/service-name: my-service
            addressType: IPv4
            ports:
              - port: 9376
            endpoints:
              - addresses:
                  - "127.0.0.1"
              - addresses:
                  - "169.254.1.1"
            """,
            "endpoints[0].addresses[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
            "endpoints[1].addresses[0]: Invalid value: \"169.254.1.1\": may not be in the link-local range (169.254.0.0/16, fe80::/10)");
        await AssertAbsentAsync(ns, "endpointslice", "my-service-bad");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Service page: "Session stickiness", "Traffic policies".
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Service_SessionAffinityAndTrafficPolicies_DefaultsAndLimits()
    {
        var ns = await NewNamespaceAsync("svc-affinity");
        await ApplyAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: sticky
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              sessionAffinity: ClientIP
              sessionAffinityConfig:
                clientIP:
                  timeoutSeconds: 600
              ports:
                - port: 80
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: sticky-default
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              sessionAffinity: ClientIP
              ports:
                - port: 80
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: node-local
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              internalTrafficPolicy: Local
              ports:
                - port: 80
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: nodeport-local
            spec:
              type: NodePort
              externalTrafficPolicy: Local
              internalTrafficPolicy: Local
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 80
            """, "service/sticky created", "service/sticky-default created", "service/node-local created", "service/nodeport-local created");

        var sticky = await GetAsync(ns, "service", "sticky");
        var ip = DynamicV4(sticky["spec"]?["clusterIP"], "sticky spec.clusterIP");
        AssertStored(sticky, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "port": 80, "protocol": "TCP", "targetPort": 80 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": { "clientIP": { "timeoutSeconds": 600 } },
                "type": "ClusterIP"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service sticky");

        var stickyDefault = await GetAsync(ns, "service", "sticky-default");
        ip = DynamicV4(stickyDefault["spec"]?["clusterIP"], "sticky-default spec.clusterIP");
        AssertStored(stickyDefault, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "port": 80, "protocol": "TCP", "targetPort": 80 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": { "clientIP": { "timeoutSeconds": 10800 } },
                "type": "ClusterIP"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service sticky-default");

        var nodeLocal = await GetAsync(ns, "service", "node-local");
        ip = DynamicV4(nodeLocal["spec"]?["clusterIP"], "node-local spec.clusterIP");
        AssertStored(nodeLocal, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "internalTrafficPolicy": "Local",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "port": 80, "protocol": "TCP", "targetPort": 80 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "ClusterIP"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service node-local");

        // externalTrafficPolicy Local on a NodePort: no healthCheckNodePort (only LoadBalancers get one).
        var npLocal = await GetAsync(ns, "service", "nodeport-local");
        ip = DynamicV4(npLocal["spec"]?["clusterIP"], "nodeport-local spec.clusterIP");
        var np = DynamicNodePort(npLocal["spec"]?["ports"]?[0]?["nodePort"], "nodeport-local spec.ports[0].nodePort");
        AssertStored(npLocal, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{ip}}", "clusterIPs": ["{{ip}}"],
                "externalTrafficPolicy": "Local",
                "internalTrafficPolicy": "Local",
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "nodePort": {{np}}, "port": 80, "protocol": "TCP", "targetPort": 80 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "NodePort"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service nodeport-local");

        await AssertRejectedAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: sticky-too-long
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              sessionAffinity: ClientIP
              sessionAffinityConfig:
                clientIP:
                  timeoutSeconds: 86401
              ports:
                - port: 80
            """, "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 86401: must be greater than 0 and less than 86400");
        await AssertRejectedAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: etp-on-clusterip
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              externalTrafficPolicy: Local
              ports:
                - port: 80
            """, "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services");
        await AssertAbsentAsync(ns, "service", "sticky-too-long");
        await AssertAbsentAsync(ns, "service", "etp-on-clusterip");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Dual-stack page: "Dual-stack options on new Services", headless, LoadBalancer.
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task DualStack_NewServices_FamiliesPolicyAndClusterIpsAsUpstream()
    {
        var ns = await NewNamespaceAsync("dualstack");
        await ApplyAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: default-svc
              labels:
                app.kubernetes.io/name: MyApp
            spec:
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - protocol: TCP
                  port: 80
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: preferred
              labels:
                app.kubernetes.io/name: MyApp
            spec:
              ipFamilyPolicy: PreferDualStack
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - protocol: TCP
                  port: 80
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: preferred-v6-first
              labels:
                app.kubernetes.io/name: MyApp
            spec:
              ipFamilyPolicy: PreferDualStack
              ipFamilies:
              - IPv6
              - IPv4
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - protocol: TCP
                  port: 80
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: required-v6-first
            spec:
              ipFamilyPolicy: RequireDualStack
              ipFamilies:
              - IPv6
              - IPv4
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - protocol: TCP
                  port: 80
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: single-v6
            spec:
              ipFamilies:
              - IPv6
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 80
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: headless-dual
            spec:
              clusterIP: None
              ipFamilyPolicy: PreferDualStack
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 80
            ---
            apiVersion: v1
            kind: Service
            metadata:
              name: lb-dual
            spec:
              type: LoadBalancer
              ipFamilyPolicy: PreferDualStack
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 80
            """,
            "service/default-svc created", "service/preferred created", "service/preferred-v6-first created",
            "service/required-v6-first created", "service/single-v6 created", "service/headless-dual created", "service/lb-dual created");

        var def = await GetAsync(ns, "service", "default-svc");
        AssertMetadata(def, ns, "default-svc", generation: null, labels: """{ "app.kubernetes.io/name": "MyApp" }""");
        var v4 = DynamicV4(def["spec"]?["clusterIP"], "default-svc spec.clusterIP");
        AssertStored(def, ClusterIpService(
            $$"""{{Q(v4)}}, "clusterIPs": [{{Q(v4)}}], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack" """),
            "service default-svc");

        var pref = await GetAsync(ns, "service", "preferred");
        v4 = DynamicV4(pref["spec"]?["clusterIPs"]?[0], "preferred spec.clusterIPs[0]");
        var v6 = DynamicV6(pref["spec"]?["clusterIPs"]?[1], "preferred spec.clusterIPs[1]");
        AssertStored(pref, ClusterIpService(
            $$"""{{Q(v4)}}, "clusterIPs": [{{Q(v4)}}, {{Q(v6)}}], "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack" """),
            "service preferred");
        // Each allocated address is an IPAddress object naming the Service (KEP-1880, GA in v1.33).
        await AssertIpAddressObjectAsync(v4, "IPv4", ns, "preferred");
        await AssertIpAddressObjectAsync(v6, "IPv6", ns, "preferred");

        var prefV6 = await GetAsync(ns, "service", "preferred-v6-first");
        v6 = DynamicV6(prefV6["spec"]?["clusterIPs"]?[0], "preferred-v6-first spec.clusterIPs[0]");
        v4 = DynamicV4(prefV6["spec"]?["clusterIPs"]?[1], "preferred-v6-first spec.clusterIPs[1]");
        AssertStored(prefV6, ClusterIpService(
            $$"""{{Q(v6)}}, "clusterIPs": [{{Q(v6)}}, {{Q(v4)}}], "ipFamilies": ["IPv6", "IPv4"], "ipFamilyPolicy": "PreferDualStack" """),
            "service preferred-v6-first");

        var reqV6 = await GetAsync(ns, "service", "required-v6-first");
        v6 = DynamicV6(reqV6["spec"]?["clusterIPs"]?[0], "required-v6-first spec.clusterIPs[0]");
        v4 = DynamicV4(reqV6["spec"]?["clusterIPs"]?[1], "required-v6-first spec.clusterIPs[1]");
        AssertStored(reqV6, ClusterIpService(
            $$"""{{Q(v6)}}, "clusterIPs": [{{Q(v6)}}, {{Q(v4)}}], "ipFamilies": ["IPv6", "IPv4"], "ipFamilyPolicy": "RequireDualStack" """),
            "service required-v6-first");

        var single6 = await GetAsync(ns, "service", "single-v6");
        v6 = DynamicV6(single6["spec"]?["clusterIP"], "single-v6 spec.clusterIP");
        AssertStored(single6, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "{{v6}}", "clusterIPs": ["{{v6}}"],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv6"], "ipFamilyPolicy": "SingleStack",
                "ports": [{ "port": 80, "protocol": "TCP", "targetPort": 80 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "ClusterIP"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service single-v6");

        AssertStored(await GetAsync(ns, "service", "headless-dual"), """
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "clusterIP": "None", "clusterIPs": ["None"],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack",
                "ports": [{ "port": 80, "protocol": "TCP", "targetPort": 80 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "ClusterIP"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service headless-dual");

        var lb = await GetAsync(ns, "service", "lb-dual");
        v4 = DynamicV4(lb["spec"]?["clusterIPs"]?[0], "lb-dual spec.clusterIPs[0]");
        v6 = DynamicV6(lb["spec"]?["clusterIPs"]?[1], "lb-dual spec.clusterIPs[1]");
        var np = DynamicNodePort(lb["spec"]?["ports"]?[0]?["nodePort"], "lb-dual spec.ports[0].nodePort");
        AssertStored(lb, $$"""
            {
              "apiVersion": "v1", "kind": "Service",
              "spec": {
                "allocateLoadBalancerNodePorts": true,
                "clusterIP": "{{v4}}", "clusterIPs": ["{{v4}}", "{{v6}}"],
                "externalTrafficPolicy": "Cluster",
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack",
                "ports": [{ "nodePort": {{np}}, "port": 80, "protocol": "TCP", "targetPort": 80 }],
                "selector": { "app.kubernetes.io/name": "MyApp" },
                "sessionAffinity": "None",
                "type": "LoadBalancer"
              },
              "status": { "loadBalancer": {} }
            }
            """, "service lb-dual");

        // Two families need a dual-stack policy (ValidateServiceClusterIPsRelatedFields).
        await AssertRejectedAsync(ns, """
            apiVersion: v1
            kind: Service
            metadata:
              name: single-two-families
            spec:
              ipFamilyPolicy: SingleStack
              ipFamilies:
              - IPv4
              - IPv6
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - port: 80
            """, "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified");
        await AssertAbsentAsync(ns, "service", "single-two-families");
    }

    [Fact]
    public async Task DualStack_ChangingIpFamilyPolicy_AddsThenReleasesSecondaryFamily()
    {
        var ns = await NewNamespaceAsync("dualstack-switch");
        const string Single = """
            apiVersion: v1
            kind: Service
            metadata:
              name: my-service
            spec:
              ipFamilyPolicy: SingleStack
              selector:
                app.kubernetes.io/name: MyApp
              ports:
                - protocol: TCP
                  port: 80
            """;
        await ApplyAsync(ns, Single, "service/my-service created");
        var v4 = DynamicV4((await GetAsync(ns, "service", "my-service"))["spec"]?["clusterIP"], "spec.clusterIP");

        // "change .spec.ipFamilyPolicy from SingleStack to PreferDualStack ... Kubernetes assigns the missing
        // address family".
        await ApplyAsync(ns, Single.Replace("ipFamilyPolicy: SingleStack", "ipFamilyPolicy: PreferDualStack", StringComparison.Ordinal),
            "service/my-service configured");
        var dual = await GetAsync(ns, "service", "my-service");
        var v6 = DynamicV6(dual["spec"]?["clusterIPs"]?[1], "spec.clusterIPs[1] after the upgrade");
        AssertStored(dual, ClusterIpService(
            $$"""{{Q(v4)}}, "clusterIPs": [{{Q(v4)}}, {{Q(v6)}}], "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack" """),
            "service my-service after SingleStack → PreferDualStack");
        await AssertIpAddressObjectAsync(v6, "IPv6", ns, "my-service");

        // "change .spec.ipFamilyPolicy from PreferDualStack or RequireDualStack to SingleStack ... Kubernetes
        // retains only the first element in the .spec.ClusterIPs array".
        await ApplyAsync(ns, Single, "service/my-service configured");
        AssertStored(await GetAsync(ns, "service", "my-service"), ClusterIpService(
            $$"""{{Q(v4)}}, "clusterIPs": [{{Q(v4)}}], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack" """),
            "service my-service after PreferDualStack → SingleStack");
        await AssertIpAddressObjectAsync(v4, "IPv4", ns, "my-service");
        // The released secondary address's IPAddress object goes away (release may finish just after the write).
        await EventuallyAsync(async () =>
        {
            var get = await Kubectl.RunAsync("get", "ipaddresses.networking.k8s.io", v6, "-o", "name");
            return (get.ExitCode == 1 && get.Stderr.Contains("NotFound", StringComparison.Ordinal), get);
        }, $"the IPAddress {v6} of the released secondary family to be deleted");

        // The primary family cannot change. Upstream's Store.Update runs the Service BeginUpdate hook (alloc.go
        // allocateUpdate → initIPFamilyFields, whose loose pre-validation is ValidateServiceClusterIPsRelatedFields)
        // before the strategy's ValidateUpdate, so the one error is the clusterIP/family mismatch.
        var r = await Kubectl.RunAsync("apply", "-n", ns, "-f", Server.WriteFile("svc.yaml",
            Single.Replace("ipFamilyPolicy: SingleStack", "ipFamilyPolicy: SingleStack\n  ipFamilies: [IPv6]", StringComparison.Ordinal)));
        r.ShouldExit(1);
        AssertContains(r, r.Stderr,
            $"The Service \"my-service\" is invalid: spec.clusterIPs[0]: Invalid value: \"{v4}\": expected an IPv6 value as indicated by `ipFamilies[0]`");
        Assert.Equal(v4, (string?)(await GetAsync(ns, "service", "my-service"))["spec"]?["clusterIP"]);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Ingress page.
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Ingress_RulesPathTypesBackendsAndTls_StoredAsUpstream()
    {
        var ns = await NewNamespaceAsync("ingress");
        await ApplyAsync(ns, """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: minimal-ingress
              annotations:
                nginx.ingress.kubernetes.io/rewrite-target: /
            spec:
              ingressClassName: nginx-example
              rules:
              - http:
                  paths:
                  - path: /testpath
                    pathType: Prefix
                    backend:
                      service:
                        name: test
                        port:
                          number: 80
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: test-ingress
            spec:
              defaultBackend:
                service:
                  name: test
                  port:
                    number: 80
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: ingress-resource-backend
            spec:
              defaultBackend:
                resource:
                  apiGroup: k8s.example.com
                  kind: StorageBucket
                  name: static-assets
              rules:
                - http:
                    paths:
                      - path: /icons
                        pathType: ImplementationSpecific
                        backend:
                          resource:
                            apiGroup: k8s.example.com
                            kind: StorageBucket
                            name: icon-assets
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: ingress-wildcard-host
            spec:
              rules:
              - host: "foo.bar.com"
                http:
                  paths:
                  - pathType: Prefix
                    path: "/bar"
                    backend:
                      service:
                        name: service1
                        port:
                          number: 80
              - host: "*.foo.com"
                http:
                  paths:
                  - pathType: Prefix
                    path: "/foo"
                    backend:
                      service:
                        name: service2
                        port:
                          number: 80
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: simple-fanout-example
            spec:
              rules:
              - host: foo.bar.com
                http:
                  paths:
                  - path: /foo
                    pathType: Prefix
                    backend:
                      service:
                        name: service1
                        port:
                          number: 4200
                  - path: /foo
                    pathType: Exact
                    backend:
                      service:
                        name: service1
                        port:
                          number: 4201
                  - path: /bar
                    pathType: Prefix
                    backend:
                      service:
                        name: service2
                        port:
                          number: 8080
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: name-virtual-host-ingress-no-third-host
            spec:
              rules:
              - host: first.bar.com
                http:
                  paths:
                  - pathType: Prefix
                    path: "/"
                    backend:
                      service:
                        name: service1
                        port:
                          number: 80
              - host: second.bar.com
                http:
                  paths:
                  - pathType: Prefix
                    path: "/"
                    backend:
                      service:
                        name: service2
                        port:
                          number: 80
              - http:
                  paths:
                  - pathType: ImplementationSpecific
                    backend:
                      service:
                        name: service3
                        port:
                          name: http
            ---
            apiVersion: v1
            kind: Secret
            metadata:
              name: testsecret-tls
            data:
              tls.crt: Y2VydGlmaWNhdGU=
              tls.key: a2V5
            type: kubernetes.io/tls
            ---
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: tls-example-ingress
            spec:
              tls:
              - hosts:
                  - https-example.foo.com
                secretName: testsecret-tls
              rules:
              - host: https-example.foo.com
                http:
                  paths:
                  - path: /
                    pathType: Prefix
                    backend:
                      service:
                        name: service1
                        port:
                          number: 80
            """,
            "ingress.networking.k8s.io/minimal-ingress created", "ingress.networking.k8s.io/test-ingress created",
            "ingress.networking.k8s.io/ingress-resource-backend created", "ingress.networking.k8s.io/ingress-wildcard-host created",
            "ingress.networking.k8s.io/simple-fanout-example created", "ingress.networking.k8s.io/name-virtual-host-ingress-no-third-host created",
            "secret/testsecret-tls created", "ingress.networking.k8s.io/tls-example-ingress created");

        var minimal = await GetAsync(ns, "ingress", "minimal-ingress");
        AssertMetadata(minimal, ns, "minimal-ingress", generation: 1, annotations: """{ "nginx.ingress.kubernetes.io/rewrite-target": "/" }""");
        AssertStored(minimal, """
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
              "spec": {
                "ingressClassName": "nginx-example",
                "rules": [{ "http": { "paths": [
                  { "backend": { "service": { "name": "test", "port": { "number": 80 } } }, "path": "/testpath", "pathType": "Prefix" }
                ] } }]
              },
              "status": { "loadBalancer": {} }
            }
            """, "ingress minimal-ingress");

        // No IngressClass is marked default here, so no ingressClassName is filled in.
        AssertStored(await GetAsync(ns, "ingress", "test-ingress"), """
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
              "spec": { "defaultBackend": { "service": { "name": "test", "port": { "number": 80 } } } },
              "status": { "loadBalancer": {} }
            }
            """, "ingress test-ingress");

        AssertStored(await GetAsync(ns, "ingress", "ingress-resource-backend"), """
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
              "spec": {
                "defaultBackend": { "resource": { "apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static-assets" } },
                "rules": [{ "http": { "paths": [
                  { "backend": { "resource": { "apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "icon-assets" } },
                    "path": "/icons", "pathType": "ImplementationSpecific" }
                ] } }]
              },
              "status": { "loadBalancer": {} }
            }
            """, "ingress ingress-resource-backend");

        AssertStored(await GetAsync(ns, "ingress", "ingress-wildcard-host"), """
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
              "spec": {
                "rules": [
                  { "host": "foo.bar.com", "http": { "paths": [
                    { "backend": { "service": { "name": "service1", "port": { "number": 80 } } }, "path": "/bar", "pathType": "Prefix" } ] } },
                  { "host": "*.foo.com", "http": { "paths": [
                    { "backend": { "service": { "name": "service2", "port": { "number": 80 } } }, "path": "/foo", "pathType": "Prefix" } ] } }
                ]
              },
              "status": { "loadBalancer": {} }
            }
            """, "ingress ingress-wildcard-host");

        AssertStored(await GetAsync(ns, "ingress", "simple-fanout-example"), """
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
              "spec": {
                "rules": [{ "host": "foo.bar.com", "http": { "paths": [
                  { "backend": { "service": { "name": "service1", "port": { "number": 4200 } } }, "path": "/foo", "pathType": "Prefix" },
                  { "backend": { "service": { "name": "service1", "port": { "number": 4201 } } }, "path": "/foo", "pathType": "Exact" },
                  { "backend": { "service": { "name": "service2", "port": { "number": 8080 } } }, "path": "/bar", "pathType": "Prefix" }
                ] } }]
              },
              "status": { "loadBalancer": {} }
            }
            """, "ingress simple-fanout-example");

        AssertStored(await GetAsync(ns, "ingress", "name-virtual-host-ingress-no-third-host"), """
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
              "spec": {
                "rules": [
                  { "host": "first.bar.com", "http": { "paths": [
                    { "backend": { "service": { "name": "service1", "port": { "number": 80 } } }, "path": "/", "pathType": "Prefix" } ] } },
                  { "host": "second.bar.com", "http": { "paths": [
                    { "backend": { "service": { "name": "service2", "port": { "number": 80 } } }, "path": "/", "pathType": "Prefix" } ] } },
                  { "http": { "paths": [
                    { "backend": { "service": { "name": "service3", "port": { "name": "http" } } }, "pathType": "ImplementationSpecific" } ] } }
                ]
              },
              "status": { "loadBalancer": {} }
            }
            """, "ingress name-virtual-host-ingress-no-third-host");

        var secret = await GetAsync(ns, "secret", "testsecret-tls");
        AssertStored(secret, """
            {
              "apiVersion": "v1", "kind": "Secret",
              "data": { "tls.crt": "Y2VydGlmaWNhdGU=", "tls.key": "a2V5" },
              "type": "kubernetes.io/tls"
            }
            """, "secret testsecret-tls");
        AssertStored(await GetAsync(ns, "ingress", "tls-example-ingress"), """
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
              "spec": {
                "rules": [{ "host": "https-example.foo.com", "http": { "paths": [
                  { "backend": { "service": { "name": "service1", "port": { "number": 80 } } }, "path": "/", "pathType": "Prefix" } ] } }],
                "tls": [{ "hosts": ["https-example.foo.com"], "secretName": "testsecret-tls" }]
              },
              "status": { "loadBalancer": {} }
            }
            """, "ingress tls-example-ingress");
    }

    [Fact]
    public async Task Ingress_InvalidManifests_RejectedWithUpstreamFieldErrors()
    {
        var ns = await NewNamespaceAsync("ingress-invalid");

        // "A backend is either service or resource" (validateIngressBackend).
        await AssertRejectedAsync(ns, """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: both-backends
            spec:
              defaultBackend:
                service:
                  name: test
                  port:
                    number: 80
                resource:
                  apiGroup: k8s.example.com
                  kind: StorageBucket
                  name: static-assets
              rules:
              - http:
                  paths:
                  - path: /icons
                    pathType: ImplementationSpecific
                    backend:
                      service:
                        name: test
                        port:
                          number: 80
                      resource:
                        apiGroup: k8s.example.com
                        kind: StorageBucket
                        name: icon-assets
            """,
            "spec.defaultBackend: Invalid value: \"\": cannot set both resource and service backends",
            "spec.rules[0].http.paths[0].backend: Invalid value: \"\": cannot set both resource and service backends");

        // "paths without [pathType] will fail validation".
        await AssertRejectedAsync(ns, """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: no-path-type
            spec:
              rules:
              - http:
                  paths:
                  - path: /testpath
                    backend:
                      service:
                        name: test
                        port:
                          number: 80
            """, "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified");

        // Host rules: "the wildcard character * must appear by itself as the first DNS label"; hosts are names,
        // not IPs; Exact/Prefix paths are absolute.
        await AssertRejectedAsync(ns, """
            apiVersion: networking.k8s.io/v1
            kind: Ingress
            metadata:
              name: bad-hosts
            spec:
              rules:
              - host: "foo.*.bar.com"
                http:
                  paths:
                  - pathType: Prefix
                    path: /
                    backend:
                      service:
                        name: test
                        port:
                          number: 80
              - host: "192.0.2.1"
                http:
                  paths:
                  - pathType: Exact
                    path: foo
                    backend:
                      service:
                        name: test
                        port:
                          number: 80
            """,
            "spec.rules[0].host: Invalid value: \"foo.*.bar.com\": a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
            "spec.rules[1].host: Invalid value: \"192.0.2.1\": must be a DNS name, not an IP address",
            "spec.rules[1].http.paths[0].path: Invalid value: \"foo\": must be an absolute path");

        // IngressClass parameters with scope Namespace need the namespace (validateIngressClassParametersReference).
        var cls = Unique("ns-params-missing");
        await AssertRejectedAsync(ns, $"""
            apiVersion: networking.k8s.io/v1
            kind: IngressClass
            metadata:
              name: {cls}
            spec:
              controller: example.com/ingress-controller
              parameters:
                scope: Namespace
                apiGroup: k8s.example.com
                kind: IngressParameters
                name: external-lb
            """, "spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'");

        await AssertAbsentAsync(ns, "ingress", "both-backends");
        await AssertAbsentAsync(ns, "ingress", "no-path-type");
        await AssertAbsentAsync(ns, "ingress", "bad-hosts");
        await AssertAbsentAsync(null, "ingressclass", cls);
    }

    [Fact]
    public async Task IngressClass_ParametersAndDefaultClass_ScopeDefaultedAndIngressWithoutClassGetsDefault()
    {
        var ns = await NewNamespaceAsync("ingressclass");
        var externalLb = Unique("external-lb");
        var nsScoped = Unique("external-lb-ns");
        var defaultClass = Unique("nginx-example");
        try
        {
            await ApplyAsync(ns, $"""
                apiVersion: networking.k8s.io/v1
                kind: IngressClass
                metadata:
                  name: {externalLb}
                spec:
                  controller: example.com/ingress-controller
                  parameters:
                    apiGroup: k8s.example.com
                    kind: IngressParameters
                    name: external-lb
                ---
                apiVersion: networking.k8s.io/v1
                kind: IngressClass
                metadata:
                  name: {nsScoped}
                spec:
                  controller: example.com/ingress-controller
                  parameters:
                    apiGroup: k8s.example.com
                    kind: IngressParameters
                    name: external-lb
                    namespace: external-configuration
                    scope: Namespace
                ---
                apiVersion: networking.k8s.io/v1
                kind: IngressClass
                metadata:
                  labels:
                    app.kubernetes.io/component: controller
                  name: {defaultClass}
                  annotations:
                    ingressclass.kubernetes.io/is-default-class: "true"
                spec:
                  controller: k8s.io/ingress-nginx
                """,
                $"ingressclass.networking.k8s.io/{externalLb} created", $"ingressclass.networking.k8s.io/{nsScoped} created",
                $"ingressclass.networking.k8s.io/{defaultClass} created");

            // SetDefaults_IngressClass: parameters.scope defaults to Cluster.
            var ext = await GetAsync(null, "ingressclass", externalLb);
            AssertMetadata(ext, null, externalLb, generation: 1);
            AssertStored(ext, """
                {
                  "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                  "spec": {
                    "controller": "example.com/ingress-controller",
                    "parameters": { "apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb", "scope": "Cluster" }
                  }
                }
                """, "ingressclass " + externalLb);
            AssertStored(await GetAsync(null, "ingressclass", nsScoped), """
                {
                  "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                  "spec": {
                    "controller": "example.com/ingress-controller",
                    "parameters": { "apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb",
                                    "namespace": "external-configuration", "scope": "Namespace" }
                  }
                }
                """, "ingressclass " + nsScoped);
            var def = await GetAsync(null, "ingressclass", defaultClass);
            AssertMetadata(def, null, defaultClass, generation: 1,
                labels: """{ "app.kubernetes.io/component": "controller" }""",
                annotations: """{ "ingressclass.kubernetes.io/is-default-class": "true" }""");
            AssertStored(def, """
                { "apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "spec": { "controller": "k8s.io/ingress-nginx" } }
                """, "ingressclass " + defaultClass);

            // DefaultIngressClass admission: "new Ingresses without an ingressClassName field specified will be
            // assigned this default IngressClass"; one that names a class, or carries the deprecated
            // kubernetes.io/ingress.class annotation, is left alone.
            await ApplyAsync(ns, $"""
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata:
                  name: no-class
                spec:
                  defaultBackend:
                    service:
                      name: test
                      port:
                        number: 80
                ---
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata:
                  name: explicit-class
                spec:
                  ingressClassName: {externalLb}
                  defaultBackend:
                    service:
                      name: test
                      port:
                        number: 80
                ---
                apiVersion: networking.k8s.io/v1
                kind: Ingress
                metadata:
                  name: annotated-class
                  annotations:
                    kubernetes.io/ingress.class: nginx
                spec:
                  defaultBackend:
                    service:
                      name: test
                      port:
                        number: 80
                """,
                "ingress.networking.k8s.io/no-class created", "ingress.networking.k8s.io/explicit-class created",
                "ingress.networking.k8s.io/annotated-class created");

            AssertStored(await GetAsync(ns, "ingress", "no-class"), $$"""
                {
                  "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                  "spec": { "defaultBackend": { "service": { "name": "test", "port": { "number": 80 } } }, "ingressClassName": "{{defaultClass}}" },
                  "status": { "loadBalancer": {} }
                }
                """, "ingress no-class");
            AssertStored(await GetAsync(ns, "ingress", "explicit-class"), $$"""
                {
                  "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                  "spec": { "defaultBackend": { "service": { "name": "test", "port": { "number": 80 } } }, "ingressClassName": "{{externalLb}}" },
                  "status": { "loadBalancer": {} }
                }
                """, "ingress explicit-class");
            var annotated = await GetAsync(ns, "ingress", "annotated-class");
            AssertMetadata(annotated, ns, "annotated-class", generation: 1, annotations: """{ "kubernetes.io/ingress.class": "nginx" }""");
            AssertStored(annotated, """
                {
                  "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                  "spec": { "defaultBackend": { "service": { "name": "test", "port": { "number": 80 } } } },
                  "status": { "loadBalancer": {} }
                }
                """, "ingress annotated-class");
        }
        finally
        {
            // IngressClasses are cluster-scoped: remove the default class so no other test's Ingress gets it.
            await Kubectl.RunAsync("delete", "ingressclass", externalLb, nsScoped, defaultClass, "--ignore-not-found");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Network Policies page.
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public async Task NetworkPolicy_PageExamples_StoredWithPolicyTypesAndProtocolDefaults()
    {
        var ns = await NewNamespaceAsync("netpol");
        await ApplyAsync(ns, """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: test-network-policy
            spec:
              podSelector:
                matchLabels:
                  role: db
              policyTypes:
              - Ingress
              - Egress
              ingress:
              - from:
                - ipBlock:
                    cidr: 172.17.0.0/16
                    except:
                    - 172.17.1.0/24
                - namespaceSelector:
                    matchLabels:
                      project: myproject
                - podSelector:
                    matchLabels:
                      role: frontend
                ports:
                - protocol: TCP
                  port: 6379
              egress:
              - to:
                - ipBlock:
                    cidr: 10.0.0.0/24
                ports:
                - protocol: TCP
                  port: 5978
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: default-deny-ingress
            spec:
              podSelector: {}
              policyTypes:
              - Ingress
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: allow-all-ingress
            spec:
              podSelector: {}
              ingress:
              - {}
              policyTypes:
              - Ingress
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: default-deny-egress
            spec:
              podSelector: {}
              policyTypes:
              - Egress
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: allow-all-egress
            spec:
              podSelector: {}
              egress:
              - {}
              policyTypes:
              - Egress
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: default-deny-all
            spec:
              podSelector: {}
              policyTypes:
              - Ingress
              - Egress
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: multi-port-egress
            spec:
              podSelector:
                matchLabels:
                  role: db
              policyTypes:
                - Egress
              egress:
                - to:
                    - ipBlock:
                        cidr: 10.0.0.0/24
                  ports:
                    - protocol: TCP
                      port: 32000
                      endPort: 32768
            """,
            "networkpolicy.networking.k8s.io/test-network-policy created", "networkpolicy.networking.k8s.io/default-deny-ingress created",
            "networkpolicy.networking.k8s.io/allow-all-ingress created", "networkpolicy.networking.k8s.io/default-deny-egress created",
            "networkpolicy.networking.k8s.io/allow-all-egress created", "networkpolicy.networking.k8s.io/default-deny-all created",
            "networkpolicy.networking.k8s.io/multi-port-egress created");

        var main = await GetAsync(ns, "networkpolicy", "test-network-policy");
        AssertMetadata(main, ns, "test-network-policy", generation: 1);
        AssertStored(main, """
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "spec": {
                "egress": [{ "ports": [{ "port": 5978, "protocol": "TCP" }], "to": [{ "ipBlock": { "cidr": "10.0.0.0/24" } }] }],
                "ingress": [{
                  "from": [
                    { "ipBlock": { "cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"] } },
                    { "namespaceSelector": { "matchLabels": { "project": "myproject" } } },
                    { "podSelector": { "matchLabels": { "role": "frontend" } } }
                  ],
                  "ports": [{ "port": 6379, "protocol": "TCP" }]
                }],
                "podSelector": { "matchLabels": { "role": "db" } },
                "policyTypes": ["Ingress", "Egress"]
              }
            }
            """, "networkpolicy test-network-policy");

        AssertStored(await GetAsync(ns, "networkpolicy", "default-deny-ingress"), """
            { "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "spec": { "podSelector": {}, "policyTypes": ["Ingress"] } }
            """, "networkpolicy default-deny-ingress");
        AssertStored(await GetAsync(ns, "networkpolicy", "allow-all-ingress"), """
            { "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "spec": { "ingress": [{}], "podSelector": {}, "policyTypes": ["Ingress"] } }
            """, "networkpolicy allow-all-ingress");
        AssertStored(await GetAsync(ns, "networkpolicy", "default-deny-egress"), """
            { "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "spec": { "podSelector": {}, "policyTypes": ["Egress"] } }
            """, "networkpolicy default-deny-egress");
        AssertStored(await GetAsync(ns, "networkpolicy", "allow-all-egress"), """
            { "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "spec": { "egress": [{}], "podSelector": {}, "policyTypes": ["Egress"] } }
            """, "networkpolicy allow-all-egress");
        AssertStored(await GetAsync(ns, "networkpolicy", "default-deny-all"), """
            { "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "spec": { "podSelector": {}, "policyTypes": ["Ingress", "Egress"] } }
            """, "networkpolicy default-deny-all");
        AssertStored(await GetAsync(ns, "networkpolicy", "multi-port-egress"), """
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "spec": {
                "egress": [{ "ports": [{ "endPort": 32768, "port": 32000, "protocol": "TCP" }], "to": [{ "ipBlock": { "cidr": "10.0.0.0/24" } }] }],
                "podSelector": { "matchLabels": { "role": "db" } },
                "policyTypes": ["Egress"]
              }
            }
            """, "networkpolicy multi-port-egress");
    }

    [Fact]
    public async Task NetworkPolicy_SelectorFormsAndDefaulting_StoredAsUpstream()
    {
        var ns = await NewNamespaceAsync("netpol-forms");
        // "Targeting a Namespace by its name": the control plane sets kubernetes.io/metadata.name on every namespace.
        var nsObj = await GetAsync(null, "namespace", ns);
        AssertJson(nsObj["metadata"]?["labels"], $$"""{ "kubernetes.io/metadata.name": "{{ns}}" }""", $"namespace {ns} metadata.labels");

        await ApplyAsync(ns, $$"""
            # AND: one peer with both selectors.
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: and-form
            spec:
              podSelector:
                matchLabels:
                  role: db
              ingress:
              - from:
                - namespaceSelector:
                    matchLabels:
                      user: alice
                  podSelector:
                    matchLabels:
                      role: client
            ---
            # OR: two peers.
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: or-form
            spec:
              podSelector:
                matchLabels:
                  role: db
              ingress:
              - from:
                - namespaceSelector:
                    matchLabels:
                      user: alice
                - podSelector:
                    matchLabels:
                      role: client
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: by-namespace-name
            spec:
              podSelector:
                matchExpressions:
                - key: role
                  operator: In
                  values: [db, cache]
              ingress:
              - from:
                - namespaceSelector:
                    matchLabels:
                      kubernetes.io/metadata.name: {{ns}}
                ports:
                - port: 6379
                - protocol: UDP
                  port: dns
            ---
            # Egress rules without policyTypes: upstream defaults policyTypes to [Ingress, Egress].
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: egress-without-policy-types
            spec:
              podSelector: {}
              egress:
              - to:
                - namespaceSelector: {}
                  podSelector:
                    matchLabels:
                      k8s-app: kube-dns
                ports:
                - protocol: UDP
                  port: 53
            ---
            # Nothing but a podSelector: policyTypes defaults to [Ingress].
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: bare
            spec:
              podSelector:
                matchLabels:
                  app: web
            """,
            "networkpolicy.networking.k8s.io/and-form created", "networkpolicy.networking.k8s.io/or-form created",
            "networkpolicy.networking.k8s.io/by-namespace-name created", "networkpolicy.networking.k8s.io/egress-without-policy-types created",
            "networkpolicy.networking.k8s.io/bare created");

        AssertStored(await GetAsync(ns, "networkpolicy", "and-form"), """
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "spec": {
                "ingress": [{ "from": [
                  { "namespaceSelector": { "matchLabels": { "user": "alice" } }, "podSelector": { "matchLabels": { "role": "client" } } }
                ] }],
                "podSelector": { "matchLabels": { "role": "db" } },
                "policyTypes": ["Ingress"]
              }
            }
            """, "networkpolicy and-form");
        AssertStored(await GetAsync(ns, "networkpolicy", "or-form"), """
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "spec": {
                "ingress": [{ "from": [
                  { "namespaceSelector": { "matchLabels": { "user": "alice" } } },
                  { "podSelector": { "matchLabels": { "role": "client" } } }
                ] }],
                "podSelector": { "matchLabels": { "role": "db" } },
                "policyTypes": ["Ingress"]
              }
            }
            """, "networkpolicy or-form");
        AssertStored(await GetAsync(ns, "networkpolicy", "by-namespace-name"), $$"""
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "spec": {
                "ingress": [{
                  "from": [{ "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": "{{ns}}" } } }],
                  "ports": [{ "port": 6379, "protocol": "TCP" }, { "port": "dns", "protocol": "UDP" }]
                }],
                "podSelector": { "matchExpressions": [{ "key": "role", "operator": "In", "values": ["db", "cache"] }] },
                "policyTypes": ["Ingress"]
              }
            }
            """, "networkpolicy by-namespace-name");
        AssertStored(await GetAsync(ns, "networkpolicy", "egress-without-policy-types"), """
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "spec": {
                "egress": [{
                  "ports": [{ "port": 53, "protocol": "UDP" }],
                  "to": [{ "namespaceSelector": {}, "podSelector": { "matchLabels": { "k8s-app": "kube-dns" } } }]
                }],
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"]
              }
            }
            """, "networkpolicy egress-without-policy-types");
        AssertStored(await GetAsync(ns, "networkpolicy", "bare"), """
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "spec": { "podSelector": { "matchLabels": { "app": "web" } }, "policyTypes": ["Ingress"] }
            }
            """, "networkpolicy bare");
    }

    [Fact]
    public async Task NetworkPolicy_InvalidPeersAndPorts_RejectedWithUpstreamFieldErrors()
    {
        var ns = await NewNamespaceAsync("netpol-invalid");
        await AssertRejectedAsync(ns, """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: bad-peers
            spec:
              podSelector: {}
              ingress:
              - from:
                - ipBlock:
                    cidr: 172.17.0.0/16
                    except:
                    - 10.0.0.0/8
                - ipBlock:
                    cidr: 172.17.0.0/16
                  podSelector:
                    matchLabels:
                      role: frontend
                - {}
            """,
            "spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"10.0.0.0/8\": must be a strict subset of `cidr`",
            "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
            "spec.ingress[0].from[2]: Required value: must specify a peer");

        // endPort below port: upstream ValidateNetworkPolicyPort reports the *port* value as the bad value.
        await AssertRejectedAsync(ns, """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: bad-ports
            spec:
              podSelector: {}
              policyTypes:
              - Egress
              egress:
              - ports:
                - protocol: TCP
                  port: 32000
                  endPort: 31000
                - protocol: TCP
                  port: http
                  endPort: 8080
            """,
            "spec.egress[0].ports[0].endPort: Invalid value: 32000: must be greater than or equal to `port`",
            "spec.egress[0].ports[1].endPort: Invalid value: 8080: may not be specified when `port` is non-numeric");
        await AssertAbsentAsync(ns, "networkpolicy", "bad-peers");
        await AssertAbsentAsync(ns, "networkpolicy", "bad-ports");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers.
    // ---------------------------------------------------------------------------------------------------------

    private static string Q(string s) => JsonSerializer.Serialize(s);

    /// <summary>The stored shape of the dual-stack page's ClusterIP Services (selector MyApp, port 80/TCP).</summary>
    private static string ClusterIpService(string clusterIpFields) => $$"""
        {
          "apiVersion": "v1", "kind": "Service",
          "spec": {
            "clusterIP": {{clusterIpFields}},
            "internalTrafficPolicy": "Cluster",
            "ports": [{ "port": 80, "protocol": "TCP", "targetPort": 80 }],
            "selector": { "app.kubernetes.io/name": "MyApp" },
            "sessionAffinity": "None",
            "type": "ClusterIP"
          },
          "status": { "loadBalancer": {} }
        }
        """;

    /// <summary>`kubectl apply -n ns -f file` of <paramref name="yaml"/>; stdout must be exactly <paramref name="expected"/>.</summary>
    private async Task ApplyAsync(string ns, string yaml, params string[] expected)
    {
        var file = Server.WriteFile("manifest.yaml", yaml);
        var r = (await Kubectl.RunAsync("apply", "-n", ns, "-f", file)).ShouldSucceed();
        if (!r.Lines.SequenceEqual(expected))
        {
            throw new XunitException($"expected kubectl apply to print:\n{string.Join('\n', expected)}\n{r}");
        }
    }

    /// <summary>`kubectl apply` must fail as Invalid and stderr must name every field error in <paramref name="errors"/>.</summary>
    private async Task AssertRejectedAsync(string ns, string yaml, params string[] errors)
    {
        var file = Server.WriteFile("invalid.yaml", yaml);
        var r = await Kubectl.RunAsync("apply", "-n", ns, "-f", file);
        r.ShouldExit(1);
        AssertContains(r, r.Stderr, " is invalid: ");
        foreach (var e in errors)
        {
            AssertContains(r, r.Stderr, e);
        }
    }

    private async Task AssertAbsentAsync(string? ns, string resource, string name)
    {
        var args = new List<string> { "get", resource, name, "-o", "name" };
        if (ns is not null)
        {
            args.AddRange(["-n", ns]);
        }
        var r = await Kubectl.RunAsync([.. args]);
        r.ShouldExit(1);
        AssertContains(r, r.Stderr, "(NotFound)");
    }

    private async Task<JsonObject> GetAsync(string? ns, string resource, string name)
    {
        var args = new List<string> { "get", resource, name, "-o", "json" };
        if (ns is not null)
        {
            args.AddRange(["-n", ns]);
        }
        var r = (await Kubectl.RunAsync([.. args])).ShouldSucceed();
        return JsonNode.Parse(r.Stdout) as JsonObject ?? throw new XunitException($"expected a JSON object.\n{r}");
    }

    /// <summary>
    /// The IPAddress object upstream's allocator writes for each ClusterIP (ipallocator.go createIPAddress):
    /// named by the address, labelled with its family and managed-by ipallocator.k8s.io, parentRef to the Service.
    /// </summary>
    private async Task AssertIpAddressObjectAsync(string ip, string family, string ns, string service)
    {
        var obj = await GetAsync(null, "ipaddresses.networking.k8s.io", ip);
        AssertMetadata(obj, null, ip, generation: null, withLastApplied: false,
            labels: $$"""{ "ipaddress.kubernetes.io/ip-family": "{{family}}", "ipaddress.kubernetes.io/managed-by": "ipallocator.k8s.io" }""");
        AssertStored(obj, $$"""
            {
              "apiVersion": "networking.k8s.io/v1", "kind": "IPAddress",
              "spec": { "parentRef": { "name": "{{service}}", "namespace": "{{ns}}", "resource": "services" } }
            }
            """, "ipaddress " + ip);
    }

    /// <summary>
    /// Checks metadata as kubectl shows it (managedFields hidden): exactly name, namespace (namespaced kinds),
    /// uid, resourceVersion, creationTimestamp, generation (only kinds that track it), labels and annotations as
    /// given, plus kubectl's last-applied-configuration annotation naming this object.
    /// </summary>
    private static void AssertMetadata(
        JsonNode obj, string? ns, string name, long? generation, string? labels = null, string annotations = "{}", bool withLastApplied = true)
    {
        var meta = obj["metadata"] as JsonObject ?? throw new XunitException($"no metadata:\n{obj.ToJsonString()}");
        var expectedKeys = new SortedSet<string>(StringComparer.Ordinal) { "name", "uid", "resourceVersion", "creationTimestamp" };
        if (ns is not null)
        {
            expectedKeys.Add("namespace");
        }
        if (generation is not null)
        {
            expectedKeys.Add("generation");
        }
        if (labels is not null)
        {
            expectedKeys.Add("labels");
        }
        var expectedAnnotations = JsonNode.Parse(annotations)!.AsObject();
        if (withLastApplied || expectedAnnotations.Count > 0)
        {
            expectedKeys.Add("annotations");
        }
        var actualKeys = new SortedSet<string>(meta.Select(p => p.Key), StringComparer.Ordinal);
        if (!actualKeys.SetEquals(expectedKeys))
        {
            throw new XunitException(
                $"metadata of {name}: expected keys [{string.Join(", ", expectedKeys)}], got [{string.Join(", ", actualKeys)}]\n{meta.ToJsonString()}");
        }
        Assert.Equal(name, (string?)meta["name"]);
        if (ns is not null)
        {
            Assert.Equal(ns, (string?)meta["namespace"]);
        }
        Assert.True(Guid.TryParse((string?)meta["uid"], out _), $"metadata.uid of {name} is not a UID: {meta["uid"]}");
        Assert.Matches("^[0-9]+$", (string?)meta["resourceVersion"] ?? "");
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", (string?)meta["creationTimestamp"] ?? "");
        if (generation is not null)
        {
            Assert.Equal(generation, (long?)meta["generation"]);
        }
        if (labels is not null)
        {
            AssertJson(meta["labels"], labels, $"{name} metadata.labels");
        }
        if (withLastApplied)
        {
            var actual = meta["annotations"]!.DeepClone().AsObject();
            var lastApplied = JsonNode.Parse((string?)actual[LastApplied] ?? throw new XunitException($"{name} lacks {LastApplied}:\n{meta.ToJsonString()}"));
            Assert.Equal(name, (string?)lastApplied?["metadata"]?["name"]);
            Assert.Equal((string?)obj["kind"], (string?)lastApplied?["kind"]);
            actual.Remove(LastApplied);
            AssertJson(actual, annotations, $"{name} metadata.annotations (besides {LastApplied})");
        }
        else if (expectedAnnotations.Count > 0)
        {
            AssertJson(meta["annotations"], annotations, $"{name} metadata.annotations");
        }
    }

    /// <summary>Compares the whole object except metadata with <paramref name="expectedJson"/>.</summary>
    private static void AssertStored(JsonNode obj, string expectedJson, string what)
    {
        var copy = obj.DeepClone().AsObject();
        copy.Remove("metadata");
        AssertJson(copy, expectedJson, what);
    }

    /// <summary>Deep comparison: object keys exactly, arrays in order, scalars by JSON value; lists every difference.</summary>
    private static void AssertJson(JsonNode? actual, string expectedJson, string what)
    {
        var expected = JsonNode.Parse(expectedJson);
        var diffs = new List<string>();
        Diff(expected, actual, "", diffs);
        if (diffs.Count > 0)
        {
            throw new XunitException(
                $"{what} differs from upstream:\n  {string.Join("\n  ", diffs)}\nactual:\n{actual?.ToJsonString(new JsonSerializerOptions { WriteIndented = true })}");
        }
    }

    private static void Diff(JsonNode? expected, JsonNode? actual, string path, List<string> diffs)
    {
        switch (expected)
        {
            case JsonObject e when actual is JsonObject a:
                foreach (var (key, value) in e)
                {
                    if (!a.ContainsKey(key))
                    {
                        diffs.Add($"{path}.{key}: missing (expected {value?.ToJsonString() ?? "null"})");
                    }
                    else
                    {
                        Diff(value, a[key], $"{path}.{key}", diffs);
                    }
                }
                foreach (var (key, value) in a)
                {
                    if (!e.ContainsKey(key))
                    {
                        diffs.Add($"{path}.{key}: unexpected {value?.ToJsonString() ?? "null"}");
                    }
                }
                break;
            case JsonArray e when actual is JsonArray a:
                if (e.Count != a.Count)
                {
                    diffs.Add($"{path}: expected {e.Count} items {e.ToJsonString()}, got {a.Count} {a.ToJsonString()}");
                    break;
                }
                for (var i = 0; i < e.Count; i++)
                {
                    Diff(e[i], a[i], $"{path}[{i}]", diffs);
                }
                break;
            default:
                if (!JsonNode.DeepEquals(expected, actual))
                {
                    diffs.Add($"{(path.Length == 0 ? "(root)" : path)}: expected {expected?.ToJsonString() ?? "null"}, got {actual?.ToJsonString() ?? "nothing"}");
                }
                break;
        }
    }

    // 10.96.0.0/12: static band 10.96.0.1-10.96.1.0, dynamic band 10.96.1.1-10.111.255.254 (KEP-3070 table).
    private const uint V4DynamicFirst = 0x0A600101;
    private const uint V4DynamicLast = 0x0A6FFFFE;

    /// <summary>A dynamically allocated IPv4 ClusterIP: in 10.96.0.0/12 and in its upper (dynamic) band.</summary>
    private static string DynamicV4(JsonNode? node, string what)
    {
        var s = (string?)node;
        if (s is null || !IPAddress.TryParse(s, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork || ip.ToString() != s)
        {
            throw new XunitException($"{what}: expected an IPv4 address, got {node?.ToJsonString() ?? "nothing"}");
        }
        var b = ip.GetAddressBytes();
        var v = ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
        Assert.True(InDefaultServiceCidr(s), $"{what}: {s} is not in 10.96.0.0/12");
        Assert.True(v is >= V4DynamicFirst and <= V4DynamicLast, $"{what}: {s} is not in the dynamic band 10.96.1.1-10.111.255.254 of 10.96.0.0/12");
        return s;
    }

    /// <summary>
    /// A dynamically allocated IPv6 ClusterIP: in fd00:10:96::/112, above its static band (offset 256:
    /// fd00:10:96::1-fd00:10:96::100), written in canonical (RFC 5952) form.
    /// </summary>
    private static string DynamicV6(JsonNode? node, string what)
    {
        var s = (string?)node;
        if (s is null || !IPAddress.TryParse(s, out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
        {
            throw new XunitException($"{what}: expected an IPv6 address, got {node?.ToJsonString() ?? "nothing"}");
        }
        Assert.True(ip.ToString() == s, $"{what}: {s} is not in canonical form ({ip})");
        var b = ip.GetAddressBytes();
        byte[] prefix = [0xfd, 0x00, 0x00, 0x10, 0x00, 0x96, 0, 0, 0, 0, 0, 0, 0, 0];
        Assert.True(b.AsSpan(0, 14).SequenceEqual(prefix), $"{what}: {s} is not in fd00:10:96::/112");
        var offset = (b[14] << 8) | b[15];
        Assert.True(offset > 0x100, $"{what}: {s} is not in the dynamic band (above fd00:10:96::100) of fd00:10:96::/112");
        return s;
    }

    /// <summary>A dynamically allocated nodePort: in 30000-32767 and in its upper (dynamic) band 30087-32767 (KEP-3668).</summary>
    private static int DynamicNodePort(JsonNode? node, string what)
    {
        if (node is not JsonValue v || !v.TryGetValue<int>(out var port))
        {
            throw new XunitException($"{what}: expected a port number, got {node?.ToJsonString() ?? "nothing"}");
        }
        Assert.True(port is >= 30000 and <= 32767, $"{what}: {port} is not in 30000-32767");
        Assert.True(port >= 30087, $"{what}: {port} is in the static band 30000-30086, not the dynamic band 30087-32767");
        return port;
    }
}
