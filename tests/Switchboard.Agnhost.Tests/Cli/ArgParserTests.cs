using Switchboard.Agnhost.Cli;
using Switchboard.Agnhost.Connect;
using Switchboard.Agnhost.Netexec;
using Switchboard.Agnhost.ServeHostname;

namespace Switchboard.Agnhost.Tests.Cli;

public sealed class ArgParserTests
{
    [Fact]
    public void Parse_NoFlags_UpstreamDefaults()
    {
        var parsed = ArgParser.Parse(NetexecCommand.Spec, []);
        Assert.Equal(8080, parsed.GetInt("http-port"));
        Assert.Equal(8081, parsed.GetInt("udp-port"));
        Assert.Equal(-1, parsed.GetInt("sctp-port"));
        Assert.Equal(0, parsed.GetInt("delay-shutdown"));
        Assert.Equal(string.Empty, parsed.GetString("http-override"));
    }

    [Fact]
    public void Parse_EqualsAndSeparateValues_Both()
    {
        var parsed = ArgParser.Parse(NetexecCommand.Spec, ["--http-port=80", "--udp-port", "-1", "--http-override", "/hostname"]);
        Assert.Equal(80, parsed.GetInt("http-port"));
        Assert.Equal(-1, parsed.GetInt("udp-port"));
        Assert.Equal("/hostname", parsed.GetString("http-override"));
    }

    [Fact]
    public void Parse_BoolForms_LikePflag()
    {
        var parsed = ArgParser.Parse(ServeHostnameCommand.Spec, ["--tcp", "--http=false", "--udp=t"]);
        Assert.True(parsed.GetBool("tcp"));
        Assert.False(parsed.GetBool("http"));
        Assert.True(parsed.GetBool("udp"));
        Assert.Equal(9376, parsed.GetInt("port"));
    }

    [Fact]
    public void Parse_BoolFollowedByFalse_FalseIsPositionalAndRejected()
    {
        var e = Assert.Throws<UsageException>(() => ArgParser.Parse(ServeHostnameCommand.Spec, ["--http", "false"]));
        Assert.Equal("accepts at most 0 arg(s), received 1", e.Message);
    }

    [Theory]
    [InlineData("--nope", "unknown flag: --nope")]
    [InlineData("--http-port=x", "invalid argument \"x\" for \"--http-port\" flag: strconv.ParseInt: parsing \"x\": invalid syntax")]
    [InlineData("--http-port", "flag needs an argument: --http-port")]
    [InlineData("-x", "unknown shorthand flag: 'x' in -x")]
    public void Parse_BadInput_UsageException(string arg, string message) =>
        Assert.Equal(message, Assert.Throws<UsageException>(() => ArgParser.Parse(NetexecCommand.Spec, [arg])).Message);

    [Fact]
    public void Parse_KlogFlags_AcceptedAndIgnored()
    {
        var parsed = ArgParser.Parse(NetexecCommand.Spec, ["--v=4", "-v", "2", "--logtostderr", "--alsologtostderr=true", "--http-port=1"]);
        Assert.Equal(1, parsed.GetInt("http-port"));
    }

    [Fact]
    public void Parse_Connect_PositionalAndDuration()
    {
        var parsed = ArgParser.Parse(ConnectCommand.Spec, ["--timeout", "1.5s", "10.0.0.1:80", "--protocol=udp"]);
        Assert.Equal(["10.0.0.1:80"], parsed.Positionals);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), parsed.GetDuration("timeout"));
        Assert.Equal("udp", parsed.GetString("protocol"));
        Assert.Throws<UsageException>(() => ArgParser.Parse(ConnectCommand.Spec, ["a:1", "b:2"]));
        Assert.Throws<UsageException>(() => ArgParser.Parse(ConnectCommand.Spec, ["--timeout=5", "a:1"]));
    }

    [Fact]
    public void Parse_Help_SetsHelp() => Assert.True(ArgParser.Parse(NetexecCommand.Spec, ["--help"]).Help);

    [Theory]
    [InlineData("0", 0)]
    [InlineData("5s", 5000)]
    [InlineData("1.5s", 1500)]
    [InlineData("300ms", 300)]
    [InlineData("1m30s", 90000)]
    [InlineData("1h", 3600000)]
    [InlineData("-2s", -2000)]
    [InlineData(".5s", 500)]
    public void GoDuration_TryParse_Valid(string text, long milliseconds)
    {
        Assert.True(GoDuration.TryParse(text, out var value));
        Assert.Equal(milliseconds, (long)value.TotalMilliseconds);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("s")]
    [InlineData("5x")]
    [InlineData("1.2.3s")]
    public void GoDuration_TryParse_Invalid(string text) => Assert.False(GoDuration.TryParse(text, out _));

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(1500, "1.5s")]
    [InlineData(300, "300ms")]
    [InlineData(90000, "1m30s")]
    [InlineData(3600000, "1h0m0s")]
    public void GoDuration_Format_LikeGo(long milliseconds, string expected) =>
        Assert.Equal(expected, GoDuration.Format(TimeSpan.FromMilliseconds(milliseconds)));

    [Theory]
    [InlineData("a:1", "a", "1")]
    [InlineData("[::1]:80", "::1", "80")]
    [InlineData(":80", "", "80")]
    public void TrySplitHostPort_Valid(string address, string host, string port)
    {
        Assert.True(ConnectCommand.TrySplitHostPort(address, out var h, out var p, out _));
        Assert.Equal((host, port), (h, p));
    }

    [Theory]
    [InlineData("a", "address a: missing port in address")]
    [InlineData("::1:80", "address ::1:80: too many colons in address")]
    [InlineData("[::1", "address [::1: missing ']' in address")]
    public void TrySplitHostPort_Invalid(string address, string error)
    {
        Assert.False(ConnectCommand.TrySplitHostPort(address, out _, out _, out var e));
        Assert.Equal(error, e);
    }

    [Fact]
    public async Task CommandLine_UnknownAndEmpty_Exit2()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var commandLine = new CommandLine([new(NetexecCommand.Spec, _ => Task.FromResult(0))], stdout, stderr);
        Assert.Equal(2, await commandLine.RunAsync([]));
        Assert.Equal(2, await commandLine.RunAsync(["agnhost", "nope"]));
        Assert.Contains("unknown command \"nope\"", stderr.ToString());
        Assert.Equal(0, await commandLine.RunAsync(["/agnhost", "netexec"]));
        Assert.Equal(0, await commandLine.RunAsync(["netexec", "-h"]));
        Assert.Contains("--delay-shutdown int", stdout.ToString());
    }
}
