using System.Diagnostics;

namespace Switchboard.Controllers.Tests.Support;

/// <summary>Waits for a condition the controllers bring about; the timeout only guards against a hang.</summary>
internal static class Poll
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > limit)
            {
                Assert.Fail($"timed out after {limit.TotalSeconds:0}s waiting for {what}");
            }
            await Task.Delay(50);
        }
    }
}
