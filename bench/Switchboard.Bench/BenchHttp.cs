using System.Net;
using System.Text;

namespace Switchboard.Bench;

/// <summary>The load-generating writes the system benchmarks share: bounded-parallel loops, POST and merge PATCH.</summary>
internal static class BenchHttp
{
    /// <summary>Runs work(0..count-1) on <paramref name="parallelism"/> tasks; throws if any returned false.</summary>
    public static async Task ParallelAsync(int count, int parallelism, Func<int, Task<bool>> work)
    {
        var next = -1;
        var failures = 0;
        await Task.WhenAll(Enumerable.Range(0, parallelism).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                if (!await work(i))
                {
                    Interlocked.Increment(ref failures);
                }
            }
        })));
        if (failures > 0)
        {
            throw new InvalidOperationException($"{failures} of {count} writes failed");
        }
    }

    /// <summary>POSTs JSON; 409 (already there, e.g. a rerun) counts as success, other errors are printed.</summary>
    public static async Task<bool> PostAsync(HttpClient http, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var resp = await http.PostAsync(path, content);
        if (!resp.IsSuccessStatusCode && resp.StatusCode != HttpStatusCode.Conflict)
        {
            Console.Error.WriteLine($"bench: POST {path}: {(int)resp.StatusCode} {await resp.Content.ReadAsStringAsync()}");
            return false;
        }
        return true;
    }

    /// <summary>A JSON merge patch; errors are printed.</summary>
    public static async Task<bool> PatchAsync(HttpClient http, string path, string json)
    {
        using var req = new HttpRequestMessage(HttpMethod.Patch, path) { Content = new StringContent(json, Encoding.UTF8, "application/merge-patch+json") };
        using var resp = await http.SendAsync(req);
        if (!resp.IsSuccessStatusCode)
        {
            Console.Error.WriteLine($"bench: PATCH {path}: {(int)resp.StatusCode} {await resp.Content.ReadAsStringAsync()}");
            return false;
        }
        return true;
    }
}
