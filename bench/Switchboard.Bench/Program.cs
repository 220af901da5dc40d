using BenchmarkDotNet.Running;
using Switchboard.Bench.Api;
using Switchboard.Bench.EndpointSlices;

// `api [switchboard.dll]`: system benchmark of the API server issue's targets against a real server process.
// Anything else: BenchmarkDotNet micro-benchmarks (e.g. `--filter *FieldValidator*`).
if (args.Length > 0 && args[0] == "api")
{
    return await ApiLoad.RunAsync(args[1..]);
}
// `endpointslices [services] [podsPerService] [churnSeconds] [--slices-only]`: the EndpointSlice issue's targets,
// API server and controllers in this process.
if (args.Length > 0 && args[0] == "endpointslices")
{
    return await SliceLoad.RunAsync(args[1..]);
}
// `dns [switchboard.dll] [pairs] [seconds]`: the cluster DNS issue's targets, side by side with Knot DNS.
if (args.Length > 0 && args[0] == "dns")
{
    return await Switchboard.Bench.Dns.DnsLoad.RunAsync(args[1..]);
}
// `proxy sync|lookup …`: the service proxy issue's control-plane targets against real nftables (Proxy/README.md).
if (args.Length > 0 && args[0] == "proxy")
{
    return await Switchboard.Bench.Proxy.ProxyLoad.RunAsync(args[1..]);
}
// `nodes startup|pods|iperf [...]`: the nodes and Pods issue's targets against real `switchboard up` clusters (root).
if (args.Length > 0 && args[0] == "nodes")
{
    return await Switchboard.Bench.Nodes.NodesBench.RunAsync(args[1..]);
}
// `datapath [--pairs 7] [--only clusterip|publisher] [--chunk N] [--no-splice]`: issue 6's data-path targets
// (ClusterIP vs direct Pod-to-Pod; host publisher vs HAProxy) in namespaces it makes; root, iperf3, haproxy.
if (args.Length > 0 && args[0] == "datapath")
{
    return await Switchboard.Bench.Datapath.DatapathBench.RunAsync(args[1..]);
}
BenchmarkSwitcher.FromAssembly(typeof(ApiLoad).Assembly).Run(args);
return 0;
