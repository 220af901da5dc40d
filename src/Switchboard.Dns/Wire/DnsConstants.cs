namespace Switchboard.Dns.Wire;

/// <summary>RR types this server reads or writes (RFC 1035, 3596, 2782, 6891).</summary>
internal static class DnsType
{
    public const ushort A = 1;
    public const ushort NS = 2;
    public const ushort CNAME = 5;
    public const ushort SOA = 6;
    public const ushort PTR = 12;
    public const ushort HINFO = 13;
    public const ushort MX = 15;
    public const ushort TXT = 16;
    public const ushort AAAA = 28;
    public const ushort SRV = 33;
    public const ushort DNAME = 39;
    public const ushort OPT = 41;
    public const ushort IXFR = 251;
    public const ushort AXFR = 252;
    public const ushort MAILB = 253;
    public const ushort MAILA = 254;
    public const ushort ANY = 255;

    /// <summary>Types that cannot be asked for: type 0 is reserved and OPT is a pseudo-RR (RFC 6891 §6.1.1).</summary>
    public static bool IsInvalidQuestionType(ushort type) => type is 0 or OPT;
}

/// <summary>Classes (RFC 1035 §3.2.4).</summary>
internal static class DnsClass
{
    public const ushort IN = 1;
    public const ushort CH = 3;
    public const ushort ANY = 255;
}

/// <summary>Response codes; values above 15 only travel in EDNS (RFC 6891 §6.1.3).</summary>
internal static class DnsRcode
{
    public const int NoError = 0;
    public const int FormErr = 1;
    public const int ServFail = 2;
    public const int NXDomain = 3;
    public const int NotImp = 4;
    public const int Refused = 5;
    public const int BadVers = 16;
}

/// <summary>Header flag bits of the second 16-bit word.</summary>
internal static class DnsFlags
{
    public const ushort QR = 0x8000;
    public const ushort AA = 0x0400;
    public const ushort TC = 0x0200;
    public const ushort RD = 0x0100;
    public const ushort RA = 0x0080;
    public const ushort AD = 0x0020;
    public const ushort CD = 0x0010;
    public const int OpcodeShift = 11;
    public const ushort OpcodeMask = 0x7800;
    public const ushort RcodeMask = 0x000F;
}

/// <summary>Sizes fixed by the protocol.</summary>
internal static class DnsLimits
{
    public const int HeaderLength = 12;
    public const int MaxNameLength = 255;
    public const int MaxLabelLength = 63;
    public const int MaxLabels = 128;

    /// <summary>The classic UDP limit without EDNS (RFC 1035 §4.2.1).</summary>
    public const int ClassicUdpPayload = 512;

    /// <summary>The DNS Flag Day 2020 default: fits the IPv6 minimum MTU without fragmentation.</summary>
    public const int DefaultEdnsPayload = 1232;

    public const int MaxMessageLength = 65535;
}
