using System.Text;
using System.Text.Json;
using Switchboard.Node.KubeletApi;

namespace Switchboard.Node.Tests.KubeletApi;

public sealed class ProtocolTests
{
    [Fact]
    public void Negotiate_ClientOrder_FirstSupportedWins()
    {
        Assert.Equal("v5.channel.k8s.io", StreamProtocol.Negotiate(["v5.channel.k8s.io", "v4.channel.k8s.io"]));
        Assert.Equal("v4.channel.k8s.io", StreamProtocol.Negotiate(["v4.channel.k8s.io, v5.channel.k8s.io"]));
        Assert.Equal("v4.channel.k8s.io", StreamProtocol.Negotiate(["channel.k8s.io", "v4.channel.k8s.io"]));
        Assert.Null(StreamProtocol.Negotiate(["base64.channel.k8s.io", "SPDY/3.1"]));
        Assert.Null(StreamProtocol.Negotiate([]));
    }

    [Fact]
    public void SuccessStatus_IsGoMarshalledMetav1Status()
    {
        Assert.Equal("""{"metadata":{},"status":"Success"}""", Encoding.UTF8.GetString(StreamProtocol.SuccessStatus()));
    }

    [Fact]
    public void ExitStatus_NonZero_CarriesReasonAndExitCodeCause()
    {
        var json = JsonDocument.Parse(StreamProtocol.ExitStatus(3, ["sh", "-c", "exit 3"])).RootElement;
        Assert.Equal("Failure", json.GetProperty("status").GetString());
        Assert.Equal("NonZeroExitCode", json.GetProperty("reason").GetString());
        Assert.StartsWith("command terminated with non-zero exit code: ", json.GetProperty("message").GetString());
        var cause = Assert.Single(json.GetProperty("details").GetProperty("causes").EnumerateArray());
        Assert.Equal("ExitCode", cause.GetProperty("reason").GetString());
        Assert.Equal("3", cause.GetProperty("message").GetString());
        // client-go reads no code for this status; upstream leaves it out.
        Assert.False(json.TryGetProperty("code", out _));
    }

    [Fact]
    public void InternalErrorStatus_HasCode500()
    {
        var json = JsonDocument.Parse(StreamProtocol.InternalErrorStatus("boom")).RootElement;
        Assert.Equal("InternalError", json.GetProperty("reason").GetString());
        Assert.Equal(500, json.GetProperty("code").GetInt32());
        Assert.Equal("Internal error occurred: boom", json.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("""{"Width":120,"Height":40}""", true, 120, 40)]
    [InlineData("""{"height":7,"width":9}""", true, 9, 7)]
    [InlineData("""{"Width":120}""", false, 0, 0)]
    [InlineData("""{"Width":"120","Height":40}""", false, 0, 0)]
    [InlineData("""{"Width":70000,"Height":40}""", false, 0, 0)]
    [InlineData("not json", false, 0, 0)]
    [InlineData("", false, 0, 0)]
    [InlineData("[1,2]", false, 0, 0)]
    public void TryParseResize_Messages_OnlyWellFormedAccepted(string json, bool ok, int width, int height)
    {
        Assert.Equal(ok, StreamProtocol.TryParseResize(Encoding.UTF8.GetBytes(json), out var w, out var h));
        if (ok)
        {
            Assert.Equal(width, w);
            Assert.Equal(height, h);
        }
    }
}

public sealed class RouteTests
{
    [Theory]
    [InlineData("/healthz", "Healthz", "", "", "", null)]
    [InlineData("/containerLogs/ns/p/c", "ContainerLogs", "ns", "p", "c", null)]
    [InlineData("/exec/ns/p/c", "Exec", "ns", "p", "c", null)]
    [InlineData("/exec/ns/p/uid-1/c", "Exec", "ns", "p", "c", "uid-1")]
    [InlineData("/attach/ns/p/c", "Attach", "ns", "p", "c", null)]
    [InlineData("/portForward/ns/p", "PortForward", "ns", "p", "", null)]
    [InlineData("/portForward/ns/p/uid-2", "PortForward", "ns", "p", "", "uid-2")]
    public void Parse_KnownPaths_Split(string path, string endpoint, string ns, string pod, string container, string? uid)
    {
        var r = KubeletRoute.Parse(path);
        Assert.NotNull(r);
        Assert.Equal(new KubeletRoute(Enum.Parse<KubeletEndpoint>(endpoint), ns, pod, container, uid), r);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/exec/ns/p")]
    [InlineData("/containerLogs/ns/p")]
    [InlineData("/containerLogs/ns/p/c/extra")]
    [InlineData("/run/ns/p/c")]
    [InlineData("/healthz/extra")]
    public void Parse_UnknownPaths_Null(string path) => Assert.Null(KubeletRoute.Parse(path));

    [Fact]
    public void StreamRequest_OnlyOneIsTrue_TtyDropsStderr()
    {
        var q = new Dictionary<string, string[]>
        {
            ["command"] = ["sh", "-c", "x"],
            ["input"] = ["1"],
            ["output"] = ["true"],
            ["error"] = ["1"],
        };
        var r = StreamRequest.Parse(k => q.TryGetValue(k, out var v) ? v : []);
        Assert.Equal(["sh", "-c", "x"], r.Command);
        Assert.True(r.Stdin);
        Assert.False(r.Stdout);
        Assert.True(r.Stderr);
        Assert.False(r.Tty);

        q["tty"] = ["1"];
        r = StreamRequest.Parse(k => q.TryGetValue(k, out var v) ? v : []);
        Assert.True(r.Tty);
        Assert.False(r.Stderr);
    }

    [Fact]
    public void StreamRequest_Validate_UpstreamMessages()
    {
        Assert.Equal("you must specify at least 1 of stdin, stdout, stderr", new StreamRequest(["true"], false, false, false, false).Validate(exec: true));
        Assert.Equal("you must specify a command", new StreamRequest([], false, true, false, false).Validate(exec: true));
        Assert.Null(new StreamRequest([], false, true, false, false).Validate(exec: false));
    }

    [Fact]
    public void LogRequest_Parse_AllOptions()
    {
        var q = new Dictionary<string, string>
        {
            ["follow"] = "true",
            ["previous"] = "false",
            ["timestamps"] = "1",
            ["tailLines"] = "10",
            ["limitBytes"] = "100",
            ["sinceSeconds"] = "5",
        };
        var r = LogRequest.Parse(k => q.GetValueOrDefault(k), out var error);
        Assert.Null(error);
        Assert.True(r.Follow);
        Assert.False(r.Previous);
        Assert.True(r.Timestamps);
        Assert.Equal(10, r.TailLines);
        Assert.Equal(100, r.LimitBytes);
        Assert.Equal(5, r.SinceSeconds);
    }

    [Theory]
    [InlineData("tailLines", "-1", "tailLines: Invalid value: -1: must be greater than or equal to 0")]
    [InlineData("limitBytes", "0", "limitBytes: Invalid value: 0: must be greater than 0")]
    [InlineData("sinceSeconds", "0", "sinceSeconds: Invalid value: 0: must be greater than 0")]
    [InlineData("tailLines", "ten", "Unable to decode query: tailLines: invalid value ten")]
    [InlineData("sinceTime", "yesterday", "Unable to decode query: sinceTime: invalid value yesterday")]
    public void LogRequest_BadValues_Rejected(string key, string value, string message)
    {
        LogRequest.Parse(k => k == key ? value : null, out var error);
        Assert.Equal(message, error);
    }

    [Fact]
    public void LogRequest_SinceBoth_Forbidden()
    {
        LogRequest.Parse(k => k switch { "sinceSeconds" => "3", "sinceTime" => "2026-01-01T00:00:00Z", _ => null }, out var error);
        Assert.Equal("sinceSeconds: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified", error);
    }

    [Fact]
    public void LogRequest_TailAll_MeansNoTail()
    {
        var r = LogRequest.Parse(k => k == "tail" ? "all" : null, out var error);
        Assert.Null(error);
        Assert.Null(r.TailLines);
    }
}
