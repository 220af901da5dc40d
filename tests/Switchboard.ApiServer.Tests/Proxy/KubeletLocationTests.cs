using System.Net;
using System.Text;
using k8s.Models;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Switchboard.ApiServer.Http;
using Switchboard.ApiServer.Proxy;

namespace Switchboard.ApiServer.Tests.Proxy;

public sealed class KubeletLocationTests
{
    private static V1Pod Pod(string[] containers, string[]? init = null, string[]? ephemeral = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "team a" },
        Spec = new V1PodSpec
        {
            Containers = [.. containers.Select(c => new V1Container { Name = c })],
            InitContainers = init is null ? null : [.. init.Select(c => new V1Container { Name = c })],
            EphemeralContainers = ephemeral is null ? null : [.. ephemeral.Select(c => new V1EphemeralContainer { Name = c })],
        },
    };

    private static QueryCollection Query(params (string Key, string[] Values)[] q) =>
        new(q.ToDictionary(x => x.Key, x => new StringValues(x.Values)));

    [Fact]
    public void ValidateContainer_OnlyContainer_IsDefault() => Assert.Equal("main", KubeletLocation.ValidateContainer(Pod(["main"]), null));

    [Fact]
    public void ValidateContainer_SeveralNoName_UpstreamMessageListsAllInGoFormat()
    {
        var e = Assert.Throws<ApiException>(() => KubeletLocation.ValidateContainer(Pod(["a", "b"], init: ["i"], ephemeral: ["dbg"]), ""));
        Assert.Equal(400, e.Code);
        Assert.Equal("BadRequest", e.Reason);
        Assert.Equal("a container name must be specified for pod web, choose one of: [i a b dbg]", e.Message);
    }

    [Fact]
    public void ValidateContainer_Unknown_UpstreamMessage()
    {
        var e = Assert.Throws<ApiException>(() => KubeletLocation.ValidateContainer(Pod(["a"]), "nope"));
        Assert.Equal("container nope is not valid for pod web", e.Message);
    }

    [Fact]
    public void ValidateContainer_InitAndEphemeral_Valid()
    {
        Assert.Equal("i", KubeletLocation.ValidateContainer(Pod(["a"], init: ["i"]), "i"));
        Assert.Equal("dbg", KubeletLocation.ValidateContainer(Pod(["a"], ephemeral: ["dbg"]), "dbg"));
    }

    [Fact]
    public void ValidateContainer_NoContainers_UpstreamMessage()
    {
        var e = Assert.Throws<ApiException>(() => KubeletLocation.ValidateContainer(Pod([]), null));
        Assert.Equal("a container name must be specified for pod web", e.Message);
    }

    [Fact]
    public void NodeEndpoint_InternalIpAndDaemonPort()
    {
        var node = new V1Node
        {
            Status = new V1NodeStatus
            {
                Addresses = [new V1NodeAddress { Address = "node-1", Type = "Hostname" }, new V1NodeAddress { Address = "198.51.100.9", Type = "ExternalIP" }, new V1NodeAddress { Address = "172.18.0.11", Type = "InternalIP" }, new V1NodeAddress { Address = "fd00:172:18::11", Type = "InternalIP" }],
                DaemonEndpoints = new V1NodeDaemonEndpoints { KubeletEndpoint = new V1DaemonEndpoint { Port = 12345 } },
            },
        };
        Assert.Equal(new IPEndPoint(IPAddress.Parse("172.18.0.11"), 12345), KubeletLocation.NodeEndpoint(node));
    }

    [Fact]
    public void NodeEndpoint_ExternalIpFallback_DefaultPort()
    {
        var node = new V1Node { Status = new V1NodeStatus { Addresses = [new V1NodeAddress { Address = "198.51.100.9", Type = "ExternalIP" }] } };
        Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.9"), 10250), KubeletLocation.NodeEndpoint(node));
    }

    [Fact]
    public void NodeEndpoint_NoAddress_InternalError()
    {
        var node = new V1Node { Status = new V1NodeStatus { Addresses = [new V1NodeAddress { Address = "node-1", Type = "Hostname" }] } };
        var e = Assert.Throws<ApiException>(() => KubeletLocation.NodeEndpoint(node));
        Assert.Equal(500, e.Code);
        Assert.Contains("no preferred addresses found; known addresses: [{Hostname node-1}]", e.Message);
    }

    [Fact]
    public void StreamPath_Exec_UpstreamParamsSortedAndEscaped()
    {
        var q = Query(("command", ["sh", "-c", "echo a&b=c"]), ("stdin", ["true"]), ("stdout", ["1"]), ("stderr", ["false"]), ("tty", ["0"]), ("container", ["main"]));
        Assert.Equal("/exec/team%20a/web/main?command=sh&command=-c&command=echo%20a%26b%3Dc&input=1&output=1",
            KubeletLocation.StreamPath("exec", Pod(["main"]), "main", q));
    }

    [Fact]
    public void StreamPath_AttachIgnoresCommand_EmptyIsTrueAsGo()
    {
        var q = Query(("command", ["x"]), ("stdin", [""]), ("tty", ["TRUE"]));
        Assert.Equal("/attach/team%20a/web/main?input=1&tty=1", KubeletLocation.StreamPath("attach", Pod(["main"]), "main", q));
    }

    [Fact]
    public void PortForwardPath_PortsJoined()
    {
        Assert.Equal("/portForward/team%20a/web?container=main&port=80%2C8080", KubeletLocation.PortForwardPath(Pod(["main", "side"]), Query(("ports", ["80", "8080"]))));
        Assert.Equal("/portForward/team%20a/web?container=main", KubeletLocation.PortForwardPath(Pod(["main"]), Query()));
        Assert.Equal(400, Assert.Throws<ApiException>(() => KubeletLocation.PortForwardPath(Pod(["main"]), Query(("ports", ["0"])))).Code);
    }

    [Fact]
    public void LogPath_OptionsForwarded()
    {
        var options = PodLogOptions.Parse(Query(("follow", ["true"]), ("previous", ["1"]), ("timestamps", ["true"]), ("tailLines", ["5"]), ("limitBytes", ["100"]), ("sinceSeconds", ["30"])), "web");
        Assert.Equal("/containerLogs/team%20a/web/main?follow=true&limitBytes=100&previous=true&sinceSeconds=30&tailLines=5&timestamps=true",
            KubeletLocation.LogPath(Pod(["main"]), "main", options));
        var since = PodLogOptions.Parse(Query(("sinceTime", ["2026-01-02T03:04:05Z"])), "web");
        Assert.Equal("/containerLogs/team%20a/web/main?sinceTime=2026-01-02T03%3A04%3A05Z", KubeletLocation.LogPath(Pod(["main"]), "main", since));
    }

    [Theory]
    [InlineData("tailLines", "-1", "PodLogOptions \"web\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0")]
    [InlineData("limitBytes", "0", "PodLogOptions \"web\" is invalid: limitBytes: Invalid value: 0: must be greater than 0")]
    [InlineData("sinceSeconds", "-5", "PodLogOptions \"web\" is invalid: sinceSeconds: Invalid value: -5: must be greater than 0")]
    public void PodLogOptions_Invalid_422(string key, string value, string message)
    {
        var e = Assert.Throws<ApiException>(() => PodLogOptions.Parse(Query((key, [value])), "web"));
        Assert.Equal(422, e.Code);
        Assert.Equal("Invalid", e.Reason);
        Assert.Equal(message, e.Message);
        Assert.Equal(key, Assert.Single(e.Causes).Field);
    }

    [Fact]
    public void PodLogOptions_BothSince_Forbidden()
    {
        var e = Assert.Throws<ApiException>(() => PodLogOptions.Parse(Query(("sinceSeconds", ["5"]), ("sinceTime", ["2026-01-02T03:04:05Z"])), "web"));
        Assert.Equal("PodLogOptions \"web\" is invalid: sinceSeconds: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified", e.Message);
    }

    [Fact]
    public void PodLogOptions_NotANumber_400()
    {
        var e = Assert.Throws<ApiException>(() => PodLogOptions.Parse(Query(("tailLines", ["ten"])), "web"));
        Assert.Equal(400, e.Code);
    }

    [Theory]
    [InlineData(400, "container \"c\" in pod \"p\" is waiting to start: ContainerCreating", 400, "BadRequest", "container \"c\" in pod \"p\" is waiting to start: ContainerCreating")]
    [InlineData(500, "disk on fire", 500, "InternalError", "Internal error occurred: disk on fire")]
    [InlineData(403, "Forbidden (user=x, verb=get, resource=nodes, subresource=proxy)", 403, "Forbidden", "Forbidden (user=x, verb=get, resource=nodes, subresource=proxy)")]
    [InlineData(404, "gone", 404, "NotFound", "the server could not find the requested resource ( pods/log web)")]
    [InlineData(418, "teapot", 418, "", "the server responded with the status code 418 but did not return more information ( pods/log web)")]
    public void KubeletError_AsGenericHttpResponseChecker(int code, string body, int status, string reason, string message)
    {
        var e = PodStreamProxy.KubeletError(code, body, "web");
        Assert.Equal(status, e.Code);
        Assert.Equal(reason, e.Reason);
        Assert.Equal(message, e.Message);
    }
}

public sealed class HttpResponseHeadTests
{
    [Fact]
    public async Task ReadAsync_SwitchingProtocols_HeadersAndTunnelBytes()
    {
        var raw = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: abc=\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n\u0001hello"u8.ToArray();
        var head = await HttpResponseHead.ReadAsync(new MemoryStream(raw), CancellationToken.None);
        Assert.Equal(101, head.StatusCode);
        Assert.Equal("Switching Protocols", head.ReasonPhrase);
        Assert.Equal("v5.channel.k8s.io", head.Header("sec-websocket-protocol"));
        Assert.Equal(4, head.Headers.Count);
        Assert.Equal("\u0001hello", Encoding.Latin1.GetString(head.Rest.Span));
    }

    [Fact]
    public async Task ReadAsync_ByteByByte_SameResult()
    {
        var raw = "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad"u8.ToArray();
        var head = await HttpResponseHead.ReadAsync(new TrickleStream(raw), CancellationToken.None);
        Assert.Equal(400, head.StatusCode);
        Assert.Equal("3", head.Header("Content-Length"));
    }

    [Theory]
    [InlineData("HTTP/2 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("garbage\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX: y\r\n")]
    public async Task ReadAsync_Malformed_InvalidData(string raw)
    {
        await Assert.ThrowsAsync<InvalidDataException>(() => HttpResponseHead.ReadAsync(new MemoryStream(Encoding.Latin1.GetBytes(raw)), CancellationToken.None));
    }

    [Fact]
    public async Task ReadAsync_EndlessHeaders_Refused()
    {
        var raw = Encoding.Latin1.GetBytes("HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Repeat("X-Filler: " + new string('a', 100) + "\r\n", 1000)));
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => HttpResponseHead.ReadAsync(new MemoryStream(raw), CancellationToken.None));
        Assert.Contains("64 KiB", e.Message);
    }

    private sealed class TrickleStream(byte[] data) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(1, buffer.Length)], cancellationToken);
    }
}
