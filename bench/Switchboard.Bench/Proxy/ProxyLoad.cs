namespace Switchboard.Bench.Proxy;

/// <summary>
/// `proxy sync …`: full/partial sync, network programming latency and RSS (ProxySyncLoad, with an agent child);
/// `proxy lookup …`: first-packet lookup cost at two Service counts (ProxyLookupLoad);
/// `proxy agent …`: the child process of `proxy sync` (ProxyAgentProcess). README.md in this folder.
/// </summary>
internal static class ProxyLoad
{
    public static Task<int> RunAsync(string[] args) => args.Length == 0
        ? Usage()
        : args[0] switch
        {
            "sync" => ProxySyncLoad.RunAsync(args[1..]),
            "lookup" => ProxyLookupLoad.RunAsync(args[1..]),
            "agent" => ProxyAgentProcess.RunAsync(args[1..]),
            "script" => WriteScriptAsync(args[1..]),
            _ => Usage(),
        };

    /// <summary><c>proxy script SERVICES ENDPOINTS FILE</c>: the full-sync nft -f script, for experiments with nft itself.</summary>
    private static async Task<int> WriteScriptAsync(string[] args)
    {
        var b = new ProxyGenerationBenchmarks { Services = int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture), Endpoints = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) };
        b.Setup();
        await File.WriteAllTextAsync(args[2] + ".full", b.FullScript);
        b.AddAndRemoveOneService();
        await File.WriteAllTextAsync(args[2] + ".add", b.AddScript);
        return 0;
    }

    private static Task<int> Usage()
    {
        Console.Error.WriteLine("usage: proxy sync [services] [endpoints] [--rounds N] [--adds N] [--churn-seconds S] [--rate R] [--min-sync-ms A,B] | proxy lookup [small] [large] [--connections N] [--rounds N]");
        return Task.FromResult(2);
    }
}
