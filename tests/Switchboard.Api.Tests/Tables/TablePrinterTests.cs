using System.Buffers;
using System.Text.Json;
using Switchboard.Api.Tables;

namespace Switchboard.Api.Tests.Tables;

public class TablePrinterTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    // 5 minutes before Now.
    private const string Created = "2025-06-01T11:55:00Z";

    internal static object?[] Cells(string group, string plural, string json, DateTimeOffset? now = null)
    {
        using var doc = JsonDocument.Parse(json.Replace("@CREATED@", Created, StringComparison.Ordinal));
        var printer = TablePrinters.Get(group, plural);
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            printer.WriteCells(writer, doc.RootElement, now ?? Now);
            writer.WriteEndArray();
        }
        using var result = JsonDocument.Parse(buffer.WrittenMemory);
        var cells = result.RootElement.EnumerateArray().Select(e => e.ValueKind switch
        {
            JsonValueKind.String => (object?)e.GetString(),
            JsonValueKind.Number => e.GetInt64(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => null,
        }).ToArray();
        Assert.Equal(printer.Columns.Count, cells.Length);
        return cells;
    }

    [Fact]
    public void Namespace_NameStatusAge()
    {
        Assert.Equal(["default", "Active", "5m"], Cells("", "namespaces", """{"metadata":{"name":"default","creationTimestamp":"@CREATED@"},"status":{"phase":"Active"}}"""));
    }

    [Fact]
    public void Service_ClusterIP_PortsAndSelector()
    {
        var cells = Cells("", "services", """
            {"metadata":{"name":"web","creationTimestamp":"@CREATED@"},
             "spec":{"type":"NodePort","clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10","fd00::10"],
                     "ports":[{"port":80,"protocol":"TCP"},{"port":443,"nodePort":30443,"protocol":"TCP"},{"port":53,"protocol":"UDP"}],
                     "selector":{"tier":"front","app":"web"}}}
            """);
        Assert.Equal(["web", "NodePort", "10.96.0.10", "<none>", "80/TCP,443:30443/TCP,53/UDP", "5m", "app=web,tier=front"], cells);
    }

    [Fact]
    public void Service_Defaults_TypeProtocolAndNoneCells()
    {
        var cells = Cells("", "services", """{"metadata":{"name":"bare"},"spec":{"ports":[{"port":8080}]}}""");
        Assert.Equal(["bare", "ClusterIP", "<none>", "<none>", "8080/TCP", "<unknown>", "<none>"], cells);
        Assert.Equal("<none>", Cells("", "services", """{"metadata":{"name":"x"},"spec":{}}""")[4]);
    }

    [Fact]
    public void Service_Headless_ShowsNone()
    {
        Assert.Equal("None", Cells("", "services", """{"metadata":{"name":"h"},"spec":{"clusterIP":"None","clusterIPs":["None"]}}""")[2]);
    }

    [Theory]
    [InlineData("""{"type":"LoadBalancer"}""", "{}", "<pending>")]
    [InlineData("""{"type":"LoadBalancer"}""", """{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"},{"hostname":"lb.example.com"},{"ip":"1.2.3.4"}]}}""", "1.2.3.4,lb.example.com")]
    [InlineData("""{"type":"LoadBalancer","externalIPs":["5.6.7.8"]}""", """{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}""", "1.2.3.4,5.6.7.8")]
    [InlineData("""{"type":"LoadBalancer","externalIPs":["5.6.7.8"]}""", "{}", "5.6.7.8")]
    [InlineData("""{"type":"ClusterIP","externalIPs":["5.6.7.8","9.9.9.9"]}""", "{}", "5.6.7.8,9.9.9.9")]
    [InlineData("""{"type":"ExternalName","externalName":"db.example.com"}""", "{}", "db.example.com")]
    [InlineData("""{"type":"Weird"}""", "{}", "<unknown>")]
    public void Service_ExternalIP_FollowsUpstreamRules(string spec, string status, string expected)
    {
        Assert.Equal(expected, Cells("", "services", """{"metadata":{"name":"s"},"spec":@SPEC@,"status":@STATUS@}""".Replace("@SPEC@", spec, StringComparison.Ordinal).Replace("@STATUS@", status, StringComparison.Ordinal))[3]);
    }

    [Fact]
    public void Pod_Running_ReadyCountsAndWideCells()
    {
        var cells = Cells("", "pods", """
            {"metadata":{"name":"web-1","creationTimestamp":"@CREATED@"},
             "spec":{"nodeName":"node-a","containers":[{"name":"a"},{"name":"b"}],"readinessGates":[{"conditionType":"example.com/gate"}]},
             "status":{"phase":"Running","podIP":"10.0.0.5","podIPs":[{"ip":"10.0.0.5"}],
                       "conditions":[{"type":"Ready","status":"False"},{"type":"example.com/gate","status":"True"}],
                       "containerStatuses":[
                         {"name":"a","ready":true,"restartCount":0,"state":{"running":{}}},
                         {"name":"b","ready":false,"restartCount":0,"state":{"running":{}}}]}}
            """);
        Assert.Equal(["web-1", "1/2", "Running", "0", "5m", "10.0.0.5", "node-a", "<none>", "1/1"], cells);
    }

    [Fact]
    public void Pod_Pending_ShowsNoneForUnsetWideCells()
    {
        var cells = Cells("", "pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c"}]},"status":{"phase":"Pending"}}""");
        Assert.Equal(["p", "0/1", "Pending", "0", "<unknown>", "<none>", "<none>", "<none>", "<none>"], cells);
    }

    [Fact]
    public void Pod_CrashLoop_ShowsWaitingReasonAndLastRestart()
    {
        var cells = Cells("", "pods", """
            {"metadata":{"name":"p"},"spec":{"containers":[{"name":"c"}]},
             "status":{"phase":"Running","containerStatuses":[{"name":"c","ready":false,"restartCount":7,
               "state":{"waiting":{"reason":"CrashLoopBackOff"}},
               "lastState":{"terminated":{"exitCode":1,"finishedAt":"2025-06-01T11:57:00Z"}}}]}}
            """);
        Assert.Equal("CrashLoopBackOff", cells[2]);
        Assert.Equal("7 (3m ago)", cells[3]);
    }

    [Theory]
    [InlineData("""{"terminated":{"exitCode":0,"reason":"Completed"}}""", "Succeeded", "Completed")]
    [InlineData("""{"terminated":{"exitCode":2}}""", "Failed", "ExitCode:2")]
    [InlineData("""{"terminated":{"exitCode":137,"signal":9}}""", "Failed", "Signal:9")]
    [InlineData("""{"waiting":{"reason":"ImagePullBackOff"}}""", "Pending", "ImagePullBackOff")]
    public void Pod_ContainerStates_GiveStatus(string state, string phase, string expected)
    {
        var cells = Cells("", "pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c"}]},"status":{"phase":"@PHASE@","containerStatuses":[{"name":"c","restartCount":0,"state":@STATE@}]}}""".Replace("@PHASE@", phase, StringComparison.Ordinal).Replace("@STATE@", state, StringComparison.Ordinal));
        Assert.Equal(expected, cells[2]);
    }

    [Fact]
    public void Pod_InitContainers_ShowInitProgressAndFailures()
    {
        static string Pod(string initStatuses) =>
            """{"metadata":{"name":"p"},"spec":{"initContainers":[{"name":"i1"},{"name":"i2"}],"containers":[{"name":"c"}]},"status":{"phase":"Pending","initContainerStatuses":""" + initStatuses + "}}";

        Assert.Equal("Init:1/2", Cells("", "pods", Pod("""[{"name":"i1","state":{"terminated":{"exitCode":0}}},{"name":"i2","state":{"running":{}}}]"""))[2]);
        Assert.Equal("Init:CrashLoopBackOff", Cells("", "pods", Pod("""[{"name":"i1","state":{"waiting":{"reason":"CrashLoopBackOff"}}}]"""))[2]);
        Assert.Equal("Init:ExitCode:3", Cells("", "pods", Pod("""[{"name":"i1","state":{"terminated":{"exitCode":3}}}]"""))[2]);
        Assert.Equal("Init:Error", Cells("", "pods", Pod("""[{"name":"i1","state":{"terminated":{"exitCode":3,"reason":"Error"}}}]"""))[2]);
        Assert.Equal("Init:0/2", Cells("", "pods", Pod("""[{"name":"i1","state":{"waiting":{"reason":"PodInitializing"}}}]"""))[2]);
    }

    [Fact]
    public void Pod_SidecarInitContainer_CountsTowardsReady()
    {
        var cells = Cells("", "pods", """
            {"metadata":{"name":"p"},
             "spec":{"initContainers":[{"name":"proxy","restartPolicy":"Always"}],"containers":[{"name":"app"}]},
             "status":{"phase":"Running","conditions":[{"type":"Initialized","status":"True"}],
               "initContainerStatuses":[{"name":"proxy","started":true,"ready":true,"restartCount":1,"state":{"running":{}}}],
               "containerStatuses":[{"name":"app","ready":true,"restartCount":2,"state":{"running":{}}}]}}
            """);
        Assert.Equal("2/2", cells[1]);
        Assert.Equal("Running", cells[2]);
        Assert.Equal("3", cells[3]);
    }

    [Fact]
    public void Pod_CompletedButRunningContainer_IsRunningOrNotReady()
    {
        const string statuses = """
            "containerStatuses":[{"name":"a","ready":true,"state":{"running":{}}},{"name":"b","state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]
            """;
        Assert.Equal("Running", Cells("", "pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"},{"name":"b"}]},"status":{"phase":"Running","conditions":[{"type":"Ready","status":"True"}],""" + statuses + "}}")[2]);
        Assert.Equal("NotReady", Cells("", "pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"},{"name":"b"}]},"status":{"phase":"Running",""" + statuses + "}}")[2]);
    }

    [Theory]
    [InlineData("Running", "", "Terminating")]
    [InlineData("Succeeded", "", "Succeeded")]
    [InlineData("Running", "NodeLost", "Unknown")]
    public void Pod_Deleted_IsTerminatingUnlessTerminal(string phase, string reason, string expected)
    {
        var reasonJson = reason.Length == 0 ? "" : ",\"reason\":\"" + reason + "\"";
        var cells = Cells("", "pods", """{"metadata":{"name":"p","deletionTimestamp":"2025-06-01T11:59:00Z"},"spec":{"containers":[]},"status":{"phase":"@PHASE@"@REASON@}}""".Replace("@PHASE@", phase, StringComparison.Ordinal).Replace("@REASON@", reasonJson, StringComparison.Ordinal));
        Assert.Equal(expected, cells[2]);
    }

    [Fact]
    public void Pod_SchedulingGated_IsShown()
    {
        Assert.Equal("SchedulingGated", Cells("", "pods", """{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c"}]},"status":{"phase":"Pending","conditions":[{"type":"PodScheduled","status":"False","reason":"SchedulingGated"}]}}""")[2]);
    }

    [Fact]
    public void Node_StatusRolesAndWideCells()
    {
        var cells = Cells("", "nodes", """
            {"metadata":{"name":"n1","creationTimestamp":"@CREATED@","labels":{"node-role.kubernetes.io/worker":"","node-role.kubernetes.io/control-plane":"","kubernetes.io/role":"edge","node-role.kubernetes.io/":"x"}},
             "spec":{"unschedulable":true},
             "status":{"conditions":[{"type":"MemoryPressure","status":"False"},{"type":"Ready","status":"True"}],
                       "addresses":[{"type":"Hostname","address":"n1"},{"type":"InternalIP","address":"192.168.1.10"}],
                       "nodeInfo":{"kubeletVersion":"v1.33.1","osImage":"Debian GNU/Linux 12","kernelVersion":"6.1.0","containerRuntimeVersion":""}}}
            """);
        Assert.Equal(["n1", "Ready,SchedulingDisabled", "control-plane,edge,worker", "5m", "v1.33.1", "192.168.1.10", "<none>", "Debian GNU/Linux 12", "6.1.0", "<unknown>"], cells);
        Assert.Equal("Unknown", Cells("", "nodes", """{"metadata":{"name":"n"}}""")[1]);
        Assert.Equal("NotReady", Cells("", "nodes", """{"metadata":{"name":"n"},"status":{"conditions":[{"type":"Ready","status":"Unknown"}]}}""")[1]);
        Assert.Equal("<none>", Cells("", "nodes", """{"metadata":{"name":"n"}}""")[2]);
    }

    [Fact]
    public void Endpoints_ListsHostPortsWithMore()
    {
        var cells = Cells("", "endpoints", """
            {"metadata":{"name":"web"},"subsets":[
              {"addresses":[{"ip":"10.0.0.1"},{"ip":"fd00::2"}],"ports":[{"port":80},{"port":443}]},
              {"addresses":[{"ip":"10.0.0.3"}]}]}
            """);
        Assert.Equal("10.0.0.1:80,[fd00::2]:80,10.0.0.1:443 + 2 more...", cells[1]);
        Assert.Equal("<none>", Cells("", "endpoints", """{"metadata":{"name":"e"}}""")[1]);
        Assert.Equal("", Cells("", "endpoints", """{"metadata":{"name":"e"},"subsets":[{"ports":[{"port":80}]}]}""")[1]);
        Assert.Equal("10.0.0.1", Cells("", "endpoints", """{"metadata":{"name":"e"},"subsets":[{"addresses":[{"ip":"10.0.0.1"}]}]}""")[1]);
    }

    [Fact]
    public void EndpointSlice_PortsEndpointsAndMore()
    {
        var cells = Cells("discovery.k8s.io", "endpointslices", """
            {"metadata":{"name":"web-abc","creationTimestamp":"@CREATED@"},"addressType":"IPv4",
             "ports":[{"name":"http","port":80,"protocol":"TCP"},{"name":"named"},{}],
             "endpoints":[{"addresses":["10.0.0.1"]},{"addresses":["10.0.0.2","10.0.0.3"]},{"addresses":["10.0.0.4"]},{"addresses":["10.0.0.5"]}]}
            """);
        Assert.Equal(["web-abc", "IPv4", "80,named,*", "10.0.0.1,10.0.0.2,10.0.0.3 + 2 more...", "5m"], cells);
        Assert.Equal(["e", "IPv6", "<unset>", "<unset>", "<unknown>"], Cells("discovery.k8s.io", "endpointslices", """{"metadata":{"name":"e"},"addressType":"IPv6","ports":[],"endpoints":[]}"""));
    }

    [Fact]
    public void ConfigMapSecretServiceAccount_CountEntries()
    {
        Assert.Equal(["c", 3L, "<unknown>"], Cells("", "configmaps", """{"metadata":{"name":"c"},"data":{"a":"1","b":"2"},"binaryData":{"z":"AA=="}}"""));
        Assert.Equal(["s", "kubernetes.io/tls", 2L, "<unknown>"], Cells("", "secrets", """{"metadata":{"name":"s"},"type":"kubernetes.io/tls","data":{"tls.crt":"","tls.key":""}}"""));
        Assert.Equal(["s", "Opaque", 0L, "<unknown>"], Cells("", "secrets", """{"metadata":{"name":"s"}}"""));
        Assert.Equal(["default", 1L, "<unknown>"], Cells("", "serviceaccounts", """{"metadata":{"name":"default"},"secrets":[{"name":"t"}]}"""));
    }

    [Fact]
    public void Event_WideCellsAndFallbacks()
    {
        var cells = Cells("", "events", """
            {"metadata":{"name":"web.17a"},"type":"Warning","reason":"BackOff","message":"  Back-off restarting  \n",
             "involvedObject":{"kind":"Pod","name":"web","fieldPath":"spec.containers{web}"},
             "source":{"component":"kubelet","host":"node-a"},
             "firstTimestamp":"2025-06-01T11:00:00Z","lastTimestamp":"2025-06-01T11:58:00Z","count":12}
            """);
        Assert.Equal(["2m", "Warning", "BackOff", "pod/web", "spec.containers{web}", "kubelet, node-a", "Back-off restarting", "60m", 12L, "web.17a"], cells);

        var modern = Cells("", "events", """
            {"metadata":{"name":"e"},"type":"Normal","reason":"Scheduled","involvedObject":{"kind":"Node"},
             "reportingComponent":"default-scheduler","reportingInstance":"sched-1","eventTime":"2025-06-01T11:59:30.123456Z"}
            """);
        Assert.Equal(["29s", "Normal", "Scheduled", "node", "", "default-scheduler, sched-1", "", "29s", 1L, "e"], modern);

        var series = Cells("", "events", """{"metadata":{"name":"e"},"eventTime":"2025-06-01T11:00:00.000000Z","series":{"count":4,"lastObservedTime":"2025-06-01T11:59:00.000000Z"}}""");
        Assert.Equal("60s", series[0]);
        Assert.Equal(4L, series[8]);
    }

    [Fact]
    public void Deployment_ReadyUpdatedAvailableAndWide()
    {
        var cells = Cells("apps", "deployments", """
            {"metadata":{"name":"web","creationTimestamp":"@CREATED@"},
             "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["b","a"]}]},
                     "template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"},{"name":"proxy","image":"envoy:1.30"}]}}},
             "status":{"readyReplicas":2,"updatedReplicas":3,"availableReplicas":2}}
            """);
        Assert.Equal(["web", "2/3", 3L, 2L, "5m", "web,proxy", "nginx:1.27,envoy:1.30", "app=web,tier in (a,b)"], cells);
        Assert.Equal(["d", "0/1", 0L, 0L, "<unknown>", "", "", ""], Cells("apps", "deployments", """{"metadata":{"name":"d"},"spec":{}}"""));
    }

    [Fact]
    public void ReplicaSet_CountsAndFormattedSelector()
    {
        var cells = Cells("apps", "replicasets", """
            {"metadata":{"name":"web-5d"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"spec":{"containers":[{"name":"web","image":"nginx"}]}}},
             "status":{"replicas":2,"readyReplicas":1}}
            """);
        Assert.Equal(["web-5d", 2L, 2L, 1L, "<unknown>", "web", "nginx", "app=web"], cells);
        Assert.Equal("<none>", Cells("apps", "replicasets", """{"metadata":{"name":"r"},"spec":{"selector":{}}}""")[7]);
        Assert.Equal("<error>", Cells("apps", "replicasets", """{"metadata":{"name":"r"},"spec":{"selector":{"matchExpressions":[{"key":"a","operator":"Bogus"}]}}}""")[7]);
    }

    [Fact]
    public void NetworkPolicy_PodSelector()
    {
        Assert.Equal(["np", "role=db", "<unknown>"], Cells("networking.k8s.io", "networkpolicies", """{"metadata":{"name":"np"},"spec":{"podSelector":{"matchLabels":{"role":"db"}}}}"""));
        Assert.Equal(["np", "<none>", "<unknown>"], Cells("networking.k8s.io", "networkpolicies", """{"metadata":{"name":"np"},"spec":{"podSelector":{}}}"""));
    }

    [Fact]
    public void Ingress_ClassHostsAddressPorts()
    {
        var cells = Cells("networking.k8s.io", "ingresses", """
            {"metadata":{"name":"ing","creationTimestamp":"@CREATED@"},
             "spec":{"ingressClassName":"nginx","tls":[{"hosts":["a.example.com"]}],
                     "rules":[{"host":"a.example.com"},{"http":{}},{"host":"b.example.com"},{"host":"c.example.com"},{"host":"d.example.com"}]},
             "status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"},{"hostname":"lb.example.com"}]}}}
            """);
        Assert.Equal(["ing", "nginx", "a.example.com,b.example.com,c.example.com + 2 more...", "1.2.3.4,lb.example.com", "80, 443", "5m"], cells);
        Assert.Equal(["i", "<none>", "*", "", "80", "<unknown>"], Cells("networking.k8s.io", "ingresses", """{"metadata":{"name":"i"},"spec":{"defaultBackend":{}}}"""));
    }

    [Fact]
    public void Ingress_AddressSortedAndUnique_EmptyClassStaysEmpty()
    {
        // printIngress: loadBalancer points go through a sets.String (sorted, unique); only a nil class is <none>.
        var cells = Cells("networking.k8s.io", "ingresses", """
            {"metadata":{"name":"ing"},"spec":{"ingressClassName":"","rules":[{"host":"*.example.com"}]},
             "status":{"loadBalancer":{"ingress":[{"hostname":"lb.example.com"},{"ip":"10.0.0.2"},{"ip":"10.0.0.10"},{"ip":"10.0.0.2"}]}}}
            """);
        Assert.Equal(["ing", "", "*.example.com", "10.0.0.10,10.0.0.2,lb.example.com", "80", "<unknown>"], cells);
    }

    [Fact]
    public void NetworkPolicy_PodSelector_FormatLabelSelector()
    {
        Assert.Equal(["np", "!legacy,role=db,tier in (cache,db)", "<unknown>"], Cells("networking.k8s.io", "networkpolicies", """
            {"metadata":{"name":"np"},"spec":{"podSelector":{"matchLabels":{"role":"db"},"matchExpressions":[
              {"key":"tier","operator":"In","values":["db","cache"]},{"key":"legacy","operator":"DoesNotExist"}]}}}
            """));
        Assert.Equal(["np", "<none>", "<unknown>"], Cells("networking.k8s.io", "networkpolicies", """{"metadata":{"name":"np"},"spec":{}}"""));
    }

    [Fact]
    public void IngressClass_ControllerAndParameters()
    {
        Assert.Equal(["nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/external-lb", "<unknown>"],
            Cells("networking.k8s.io", "ingressclasses", """{"metadata":{"name":"nginx"},"spec":{"controller":"k8s.io/ingress-nginx","parameters":{"apiGroup":"k8s.example.com","kind":"IngressParameters","name":"external-lb"}}}"""));
        Assert.Equal(["c", "x", "<none>", "<unknown>"], Cells("networking.k8s.io", "ingressclasses", """{"metadata":{"name":"c"},"spec":{"controller":"x"}}"""));
    }

    [Fact]
    public void Lease_Holder()
    {
        Assert.Equal(["kube-scheduler", "node-a_1234", "<unknown>"], Cells("coordination.k8s.io", "leases", """{"metadata":{"name":"kube-scheduler"},"spec":{"holderIdentity":"node-a_1234"}}"""));
        Assert.Equal(["l", "", "<unknown>"], Cells("coordination.k8s.io", "leases", """{"metadata":{"name":"l"},"spec":{}}"""));
    }

    [Fact]
    public void UnknownKind_UsesDefaultNameAndCreatedAt()
    {
        var printer = TablePrinters.Get("example.com", "widgets");
        Assert.Same(TablePrinters.DefaultPrinter, printer);
        Assert.Equal(["Name", "Created At"], printer.Columns.Select(c => c.Name));
        Assert.Equal("date", printer.Columns[1].Type);
        Assert.Equal(["w", "2025-06-01T09:55:00Z"], Cells("example.com", "widgets", """{"metadata":{"name":"w","creationTimestamp":"2025-06-01T11:55:00+02:00"}}"""));
        Assert.Equal(["w", "0001-01-01T00:00:00Z"], Cells("example.com", "widgets", """{"metadata":{"name":"w"}}"""));
    }

    [Theory]
    [InlineData("", "namespaces", "Name,Status,Age", "")]
    [InlineData("", "nodes", "Name,Status,Roles,Age,Version", "Internal-IP,External-IP,OS-Image,Kernel-Version,Container-Runtime")]
    [InlineData("", "pods", "Name,Ready,Status,Restarts,Age", "IP,Node,Nominated Node,Readiness Gates")]
    [InlineData("", "services", "Name,Type,Cluster-IP,External-IP,Port(s),Age", "Selector")]
    [InlineData("", "endpoints", "Name,Endpoints,Age", "")]
    [InlineData("", "configmaps", "Name,Data,Age", "")]
    [InlineData("", "secrets", "Name,Type,Data,Age", "")]
    [InlineData("", "serviceaccounts", "Name,Secrets,Age", "")]
    [InlineData("", "events", "Last Seen,Type,Reason,Object,Message", "Subobject,Source,First Seen,Count,Name")]
    [InlineData("apps", "deployments", "Name,Ready,Up-to-date,Available,Age", "Containers,Images,Selector")]
    [InlineData("apps", "replicasets", "Name,Desired,Current,Ready,Age", "Containers,Images,Selector")]
    [InlineData("coordination.k8s.io", "leases", "Name,Holder,Age", "")]
    [InlineData("discovery.k8s.io", "endpointslices", "Name,AddressType,Ports,Endpoints,Age", "")]
    [InlineData("networking.k8s.io", "ingresses", "Name,Class,Hosts,Address,Ports,Age", "")]
    [InlineData("networking.k8s.io", "ingressclasses", "Name,Controller,Parameters,Age", "")]
    [InlineData("networking.k8s.io", "networkpolicies", "Name,Pod-Selector,Age", "")]
    public void Columns_MatchUpstreamNamesAndPriorities(string group, string plural, string normal, string wide)
    {
        var columns = TablePrinters.Get(group, plural).Columns;
        Assert.Equal(normal, string.Join(",", columns.Where(c => c.Priority == 0).Select(c => c.Name)));
        Assert.Equal(wide, string.Join(",", columns.Where(c => c.Priority == 1).Select(c => c.Name)));
        Assert.All(columns, c => Assert.Equal(c.Name == "Name" ? "name" : "", c.Format));
        Assert.All(columns, c => Assert.False(string.IsNullOrEmpty(c.Description)));
        Assert.All(columns, c => Assert.Contains(c.Type, new[] { "string", "integer" }));
    }
}
