using System.Text.RegularExpressions;
using Switchboard.E2E.Infrastructure;
using Xunit.Abstractions;

namespace Switchboard.E2E;

/// <summary>`kubectl get -w --output-watch-events` as a background process while other kubectl calls change objects.</summary>
[Collection(ServerCollection.Name)]
public sealed class KubectlWatchTests(SwitchboardServerFixture server, ITestOutputHelper output) : KubectlTestBase(server, output)
{
    [Fact]
    public async Task GetWatch_OutputWatchEvents_SeesAddedModifiedDeleted()
    {
        var ns = await NewNamespaceAsync("watch");
        await CreateAsync(ServiceYaml("web", ns));

        await using var watch = Kubectl.Start(["get", "services", "-n", ns, "-w", "--output-watch-events"]);
        // The initial list arrives as ADDED; after it kubectl watches from the list's resourceVersion.
        await watch.WaitForLineAsync(l => Regex.IsMatch(l, @"^ADDED\s+web\s"), "ADDED for the existing service");

        (await Kubectl.RunAsync("label", "service", "web", "-n", ns, "watched=yes")).ShouldSucceed();
        await CreateAsync(ServiceYaml("late", ns));
        (await Kubectl.RunAsync("delete", "service", "web", "-n", ns)).ShouldSucceed();
        await watch.WaitForLineAsync(l => Regex.IsMatch(l, @"^DELETED\s+web\s"), "DELETED for the deleted service");
        await watch.WaitForLineAsync(l => Regex.IsMatch(l, @"^ADDED\s+late\s"), "ADDED for the service created during the watch");

        var r = await watch.StopAsync();
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["EVENT", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var web = lines.Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(c => c.Length > 1 && c[1] == "web")
            .Select(c => c[0])
            .ToArray();
        Assert.True(web is ["ADDED", "MODIFIED", "DELETED"], $"expected ADDED, MODIFIED, DELETED for web, got {string.Join(", ", web)}.\n{r}");
        foreach (var line in lines.Skip(1))
        {
            Assert.Matches(@"^(ADDED|MODIFIED|DELETED)\s+(web|late)\s+ClusterIP\s+10\.\S+\s+<none>\s+80/TCP\s+\S+$", line);
        }
    }
}
