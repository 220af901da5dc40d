using Switchboard.Client.Cache;
using Switchboard.Client.Tests.Fakes;

namespace Switchboard.Client.Tests.Cache;

public sealed class BackoffTests
{
    [Fact]
    public void Next_WithoutJitter_DoublesFrom800MsUpTo30s()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(30), new FixedRandom(0));

        var delays = Enumerable.Range(0, 8).Select(_ => backoff.Next().TotalMilliseconds).ToList();

        Assert.Equal([800, 1600, 3200, 6400, 12800, 25600, 30000, 30000], delays);
    }

    [Fact]
    public void Next_WithFullJitter_TakesOffAtMostTheJitterFraction()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(30), new FixedRandom(1));

        Assert.Equal(800 * (1 - Backoff.Jitter), backoff.Next().TotalMilliseconds, precision: 3);
    }

    [Fact]
    public void Reset_AfterFailures_StartsOver()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(30), new FixedRandom(0));
        backoff.Next();
        backoff.Next();

        backoff.Reset();

        Assert.Equal(TimeSpan.FromMilliseconds(800), backoff.Next());
    }

    [Fact]
    public void Next_AfterManyFailures_DoesNotOverflow()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(30), new FixedRandom(0));

        for (var i = 0; i < 100; i++)
        {
            backoff.Next();
        }

        Assert.Equal(TimeSpan.FromSeconds(30), backoff.Next());
    }
}
