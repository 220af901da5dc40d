using System.Text;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Node.KubeletApi;

namespace Switchboard.Node.Tests.KubeletApi;

public sealed class ContainerLogStreamerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sbt-logs-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly FakeContainerLocator _locator = new();

    public ContainerLogStreamerTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Log(string name, string content)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    private async Task<string> CopyAsync(string path, LogRequest request, TimeProvider? time = null, bool running = false)
    {
        var view = FakeContainerLocator.HostContainer("ns", "p", "c", path) with { Running = running };
        _locator.Set(view);
        var streamer = new ContainerLogStreamer(_locator, time ?? TimeProvider.System, TimeSpan.FromMilliseconds(20));
        using var output = new MemoryStream();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await streamer.CopyAsync(view, path, request, output, cts.Token);
        return Encoding.UTF8.GetString(output.ToArray());
    }

    [Theory]
    [InlineData("a\nb\nc\n", 2, "b\nc\n")]
    [InlineData("a\nb\nc", 2, "b\nc")]
    [InlineData("a\nb\nc\n", 0, "")]
    [InlineData("a\nb\nc\n", 10, "a\nb\nc\n")]
    [InlineData("", 3, "")]
    [InlineData("\n\n\n", 2, "\n\n")]
    public async Task CopyAsync_TailLines_LastLines(string content, long tail, string expected)
    {
        Assert.Equal(expected, await CopyAsync(Log("t.log", content), new LogRequest { TailLines = tail }));
    }

    [Fact]
    public async Task TailStart_LinesAcrossBlocks_Found()
    {
        var content = string.Concat(Enumerable.Range(0, 5000).Select(i => $"line {i}\n"));
        var path = Log("big.log", content);
        Assert.Equal("line 4997\nline 4998\nline 4999\n", await CopyAsync(path, new LogRequest { TailLines = 3 }));
    }

    [Fact]
    public async Task CopyAsync_LimitBytes_Truncates()
    {
        Assert.Equal("hello", await CopyAsync(Log("l.log", "hello world\n"), new LogRequest { LimitBytes = 5 }));
    }

    [Fact]
    public async Task CopyAsync_Timestamps_ExistingLinesCarryFileTime()
    {
        var path = Log("ts.log", "one\ntwo\npartial");
        var mtime = new DateTime(2026, 3, 4, 5, 6, 7, DateTimeKind.Utc).AddTicks(1234567);
        File.SetLastWriteTimeUtc(path, mtime);
        var text = await CopyAsync(path, new LogRequest { Timestamps = true });
        Assert.Equal("2026-03-04T05:06:07.123456700Z one\n2026-03-04T05:06:07.123456700Z two\n2026-03-04T05:06:07.123456700Z partial", text);
    }

    [Fact]
    public async Task CopyAsync_TimestampsAndLimit_PrefixCounts()
    {
        var path = Log("tl.log", "abc\n");
        Assert.Equal("2026-", await CopyAsync(path, new LogRequest { Timestamps = true, LimitBytes = 5 }));
    }

    [Fact]
    public async Task CopyAsync_SinceSeconds_FileOlderThanSince_Nothing()
    {
        var path = Log("s.log", "old\n");
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        File.SetLastWriteTimeUtc(path, new DateTime(2025, 12, 31, 23, 0, 0, DateTimeKind.Utc));
        Assert.Equal("", await CopyAsync(path, new LogRequest { SinceSeconds = 60 }, time));
        Assert.Equal("old\n", await CopyAsync(path, new LogRequest { SinceSeconds = 7200 }, time));
        Assert.Equal("old\n", await CopyAsync(path, new LogRequest { SinceTime = new DateTimeOffset(2025, 12, 31, 22, 0, 0, TimeSpan.Zero) }, time));
    }

    [Fact]
    public async Task CopyAsync_Follow_GetsAppendedBytesUntilContainerStops()
    {
        var path = Log("f.log", "first\n");
        var view = FakeContainerLocator.HostContainer("ns", "p", "c", path);
        _locator.Set(view);
        var streamer = new ContainerLogStreamer(_locator, TimeProvider.System, TimeSpan.FromMilliseconds(20));
        var output = new NotifyingStream();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var copy = streamer.CopyAsync(view, path, new LogRequest { Follow = true, Timestamps = true }, output, cts.Token);
        await output.WaitForAsync("first\n", cts.Token);
        await File.AppendAllTextAsync(path, "second\n", cts.Token);
        await output.WaitForAsync("second\n", cts.Token);
        Assert.False(copy.IsCompleted);
        await File.AppendAllTextAsync(path, "last words\n", cts.Token);
        _locator.Set(view with { Running = false });
        await copy;
        var lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.EndsWith(" last words", lines[2]);
        Assert.All(lines, l => Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ", l));
    }

    [Fact]
    public async Task CopyAsync_FollowNotRunning_ReturnsAtEnd()
    {
        Assert.Equal("done\n", await CopyAsync(Log("n.log", "done\n"), new LogRequest { Follow = true }, running: false));
    }

    /// <summary>A MemoryStream whose content tests can wait for.</summary>
    private sealed class NotifyingStream : MemoryStream
    {
        private readonly SemaphoreSlim _changed = new(0);

        public string Text
        {
            get
            {
                lock (this)
                {
                    return Encoding.UTF8.GetString(ToArray());
                }
            }
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            lock (this)
            {
                Write(buffer.Span);
            }
            _changed.Release();
            return ValueTask.CompletedTask;
        }

        public async Task WaitForAsync(string text, CancellationToken ct)
        {
            while (!Text.Contains(text, StringComparison.Ordinal))
            {
                await _changed.WaitAsync(ct);
            }
        }
    }
}
