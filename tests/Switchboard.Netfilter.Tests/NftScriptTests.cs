namespace Switchboard.Netfilter.Tests;

public sealed class NftScriptTests
{
    private static readonly NftTableRef Table = new(NftFamily.Ip, "kube-proxy");

    [Fact]
    public void Write_ProxyShapes_ExactText()
    {
        var tx = new NftTransactionBuilder(Table)
            .Add(new NftTable { Comment = "rules for kube-proxy" })
            .Add(new NftChain { Name = "nat-prerouting", Type = NftChainType.Nat, Hook = NftHook.Prerouting, Priority = NftPriority.DstNat })
            .Add(new NftChain { Name = "filter-prerouting", Type = NftChainType.Filter, Hook = NftHook.Prerouting, Priority = "dstnat-10", Policy = "accept" })
            .Add(new NftChain { Name = "services", Comment = "service dispatch" })
            .Add(new NftMap { Name = "service-ips", Type = "ipv4_addr . inet_proto . inet_service : verdict", Comment = "ClusterIP, ExternalIP and LoadBalancer IP traffic" })
            .Add(new NftSet { Name = "affinity-x", Type = "ipv4_addr", Flags = [NftSetFlags.Dynamic, NftSetFlags.Timeout], Timeout = TimeSpan.FromSeconds(10800) })
            .Add(new NftRule { Chain = "services", Text = "ip daddr . meta l4proto . th dport vmap @service-ips" })
            .Add(new NftRule { Chain = "nat-prerouting", Text = "jump services", Comment = "dispatch" })
            .Add(new NftElement { Map = "service-ips", Key = ["10.96.0.1", "tcp", "443"], Value = ["goto service-ABC-default/kubernetes/tcp/https"], Comment = "default/kubernetes:https" })
            .Add(new NftElement { Set = "affinity-x", Key = ["10.0.0.5"] })
            .Build();

        Assert.Equal(
            """
            add table ip kube-proxy { comment "rules for kube-proxy" ; }
            add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }
            add chain ip kube-proxy filter-prerouting { type filter hook prerouting priority -110 ; policy accept ; }
            add chain ip kube-proxy services { comment "service dispatch" ; }
            add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }
            add set ip kube-proxy affinity-x { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }
            add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
            add rule ip kube-proxy nat-prerouting jump services comment "dispatch"
            add element ip kube-proxy service-ips { 10.96.0.1 . tcp . 443 comment "default/kubernetes:https" : goto service-ABC-default/kubernetes/tcp/https }
            add element ip kube-proxy affinity-x { 10.0.0.5 }

            """.Replace("\r\n", "\n"),
            NftScript.Write(tx));
    }

    [Fact]
    public void Write_DeleteFlushCreateInsertReplace_ExactText()
    {
        var tx = new NftTransactionBuilder(Table)
            .Create(new NftChain { Name = "c" })
            .Flush(new NftChain { Name = "c" })
            .Delete(new NftChain { Name = "c" })
            .Flush(new NftMap { Name = "m" })
            .Flush(new NftSet { Name = "s" })
            .Delete(new NftSet { Name = "s" })
            .Delete(new NftElement { Map = "m", Key = ["10.0.0.1", "udp", "53"], Value = ["goto x"] })
            .Insert(new NftRule { Chain = "c", Text = "drop" })
            .Insert(new NftRule { Chain = "c", Text = "drop", Index = 2 })
            .Add(new NftRule { Chain = "c", Text = "accept", Handle = 7 })
            .Replace(new NftRule { Chain = "c", Text = "counter accept", Handle = 7 })
            .Delete(new NftRule { Chain = "c", Handle = 7 })
            .Create(new NftElement { Set = "s", Key = ["10.0.0.0/8"] })
            .UseTable(new NftTableRef(NftFamily.Ip6, "kube-proxy"))
            .Delete(new NftTable())
            .Flush(new NftTable())
            .Build();

        Assert.Equal(
            """
            create chain ip kube-proxy c
            flush chain ip kube-proxy c
            delete chain ip kube-proxy c
            flush map ip kube-proxy m
            flush set ip kube-proxy s
            delete set ip kube-proxy s
            delete element ip kube-proxy m { 10.0.0.1 . udp . 53 }
            insert rule ip kube-proxy c drop
            insert rule ip kube-proxy c index 2 drop
            add rule ip kube-proxy c handle 7 accept
            replace rule ip kube-proxy c handle 7 counter accept
            delete rule ip kube-proxy c handle 7
            create element ip kube-proxy s { 10.0.0.0/8 }
            delete table ip6 kube-proxy
            flush table ip6 kube-proxy

            """.Replace("\r\n", "\n"),
            NftScript.Write(tx));
    }

    [Fact]
    public void Write_Defines_ComeFirst()
    {
        var tx = new NftTransactionBuilder(Table).Define("IP", "ip").Add(new NftRule { Chain = "c", Text = "$IP daddr 10.0.0.1 drop" }).Build();
        Assert.Equal("define IP = ip\nadd rule ip kube-proxy c $IP daddr 10.0.0.1 drop\n", NftScript.Write(tx));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(1 << 20)]
    public async Task WriteAsync_AnyChunkSize_SameTextAsWrite(int chunkChars)
    {
        var b = new NftTransactionBuilder(Table).Define("IP", "ip").Add(new NftTable()).Add(new NftSet { Name = "s", Type = "ipv4_addr" });
        for (var i = 0; i < 500; i++)
        {
            b.Add(new NftElement { Set = "s", Key = [$"10.0.{i / 256}.{i % 256}"] });
        }
        var tx = b.Build();
        using var writer = new StringWriter();

        await NftScript.WriteAsync(tx, writer, CancellationToken.None, chunkChars);

        Assert.Equal(NftScript.Write(tx), writer.ToString());
    }

    [Fact]
    public async Task WriteAsync_ZeroChunk_ClearError()
    {
        using var writer = new StringWriter();
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => NftScript.WriteAsync(new NftTransactionBuilder(Table).Add(new NftTable()).Build(), writer, CancellationToken.None, 0));
    }

    [Fact]
    public void Write_TypeOfMapWithConcatenatedValue_ExactText()
    {
        var tx = new NftTransactionBuilder(NftFamily.Inet, "t")
            .Add(new NftMap { Name = "dnat", TypeOf = "ip daddr . th dport : ip daddr . th dport", Flags = [NftSetFlags.Interval], Size = 1024 })
            .Add(new NftElement { Map = "dnat", Key = ["10.0.0.0/24", "80"], Value = ["10.1.0.1", "8080"] })
            .Build();
        Assert.Equal(
            "add map inet t dnat { typeof ip daddr . th dport : ip daddr . th dport ; flags interval ; size 1024 ; }\n"
            + "add element inet t dnat { 10.0.0.0/24 . 80 : 10.1.0.1 . 8080 }\n",
            NftScript.Write(tx));
    }

    private static readonly (NftVerb Verb, NftObject Obj, string Message)[] Invalid =
    [
        (NftVerb.Add, new NftChain { Name = "c", Comment = "say \"hi\"" }, "double quote"),
        (NftVerb.Add, new NftChain { Name = "c", Comment = new string('x', 129) }, "128 bytes"),
        (NftVerb.Add, new NftChain { Name = "bad name" }, "contains ' '"),
        (NftVerb.Add, new NftChain { Name = "1abc" }, "must start with"),
        (NftVerb.Add, new NftChain { Name = "" }, "must not be empty"),
        (NftVerb.Add, new NftChain { Name = "c", Hook = NftHook.Input }, "type, hook and priority"),
        (NftVerb.Add, new NftChain { Name = "c", Type = NftChainType.Nat, Hook = NftHook.Input, Priority = "dstnatt" }, "bad priority"),
        (NftVerb.Add, new NftChain { Name = "c", Type = NftChainType.Nat, Hook = "ingress", Priority = "0" }, "unknown hook"),
        (NftVerb.Add, new NftChain { Name = "c", Priority = "0" }, "regular chain"),
        (NftVerb.Insert, new NftChain { Name = "c" }, "insert is not supported for chains"),
        (NftVerb.Add, new NftRule { Chain = "c", Text = "" }, "must not be empty"),
        (NftVerb.Add, new NftRule { Chain = "c", Text = "accept\nflush ruleset" }, "would end the nft command"),
        (NftVerb.Add, new NftRule { Chain = "c", Text = "accept; flush ruleset" }, "would end the nft command"),
        (NftVerb.Replace, new NftRule { Chain = "c", Text = "accept" }, "needs a handle"),
        (NftVerb.Delete, new NftRule { Chain = "c" }, "needs a handle"),
        (NftVerb.Add, new NftRule { Chain = "c", Text = "accept", Handle = 1, Index = 0 }, "both index and handle"),
        (NftVerb.Add, new NftSet { Name = "s" }, "exactly one of type and typeof"),
        (NftVerb.Add, new NftSet { Name = "s", Type = "ipv4_addr : verdict" }, "use a map"),
        (NftVerb.Add, new NftMap { Name = "m", Type = "ipv4_addr" }, "key : value"),
        (NftVerb.Add, new NftSet { Name = "s", Type = "ipv4_addr", Flags = ["bogus"] }, "unknown flag"),
        (NftVerb.Add, new NftSet { Name = "s", Type = "ipv4_addr", Timeout = TimeSpan.FromMilliseconds(1500) }, "whole seconds"),
        (NftVerb.Add, new NftElement { Key = ["1.2.3.4"] }, "exactly one of set and map"),
        (NftVerb.Add, new NftElement { Set = "s", Map = "m", Key = ["1.2.3.4"] }, "exactly one of set and map"),
        (NftVerb.Add, new NftElement { Set = "s", Key = [] }, "has no key"),
        (NftVerb.Add, new NftElement { Set = "s", Key = ["1.2.3.4"], Value = ["drop"] }, "must not have a value"),
        (NftVerb.Add, new NftElement { Map = "m", Key = ["1.2.3.4"] }, "needs a value"),
        (NftVerb.Add, new NftElement { Set = "s", Key = ["1.2.3.4 }"] }, "separator"),
        (NftVerb.Add, new NftElement { Set = "s", Key = ["1.2.3.4 . tcp"] }, "pass concatenation parts separately"),
        (NftVerb.Replace, new NftElement { Set = "s", Key = ["1.2.3.4"] }, "replace is not supported for elements"),
    ];

    public static TheoryData<int> InvalidCases => [.. Enumerable.Range(0, Invalid.Length)];

    [Theory]
    [MemberData(nameof(InvalidCases))]
    public void Append_InvalidObject_ThrowsClearError(int index)
    {
        var (verb, obj, message) = Invalid[index];
        var builder = new NftTransactionBuilder(Table);
        var e = Assert.Throws<ArgumentException>(() => builder.Append(verb, obj));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal(0, builder.Count);
    }

    [Theory]
    [InlineData("-100", -100)]
    [InlineData("dstnat", -100)]
    [InlineData("dstnat-10", -110)]
    [InlineData("dstnat + 10", -90)]
    [InlineData("srcnat", 100)]
    [InlineData("filter", 0)]
    [InlineData("raw", -300)]
    public void PriorityTryParse_NamesAndOffsets_Numbers(string text, int expected)
    {
        Assert.True(NftPriority.TryParse(text, out var value));
        Assert.Equal(expected, value);
    }

    [Fact]
    public void Element_KeysWithSameParts_AreEqual()
    {
        var a = new NftElement { Map = "m", Key = ["10.0.0.1", "tcp", "80"], Value = ["drop"] };
        var b = new NftElement { Map = "m", Key = ["10.0.0.1", "tcp", "80"], Value = ["drop"] };
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }
}
