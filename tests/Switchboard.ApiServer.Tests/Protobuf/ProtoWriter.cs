using System.Text;

namespace Switchboard.ApiServer.Tests.Protobuf;

/// <summary>A minimal protobuf writer for building test bodies field by field, including malformed ones.</summary>
internal sealed class ProtoWriter
{
    private readonly List<byte> _bytes = [];

    /// <summary>The wire body kubectl sends: <c>k8s\0</c> + runtime.Unknown {typeMeta {apiVersion, kind}, raw}.</summary>
    public static byte[] Envelope(string apiVersion, string kind, Action<ProtoWriter> obj)
    {
        var raw = new ProtoWriter();
        obj(raw);
        var body = new ProtoWriter().Raw("k8s\0"u8.ToArray())
            .Message(1, t => t.String(1, apiVersion).String(2, kind))
            .Bytes(2, raw.ToArray())
            .String(3, "")
            .String(4, "");
        return body.ToArray();
    }

    public ProtoWriter Tag(int field, int wireType) => VarintRaw(((ulong)field << 3) | (uint)wireType);

    public ProtoWriter VarintRaw(ulong value)
    {
        while (value >= 0x80)
        {
            _bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }
        _bytes.Add((byte)value);
        return this;
    }

    public ProtoWriter Int(int field, long value) => Tag(field, 0).VarintRaw(unchecked((ulong)value));

    public ProtoWriter Bool(int field, bool value) => Int(field, value ? 1 : 0);

    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public ProtoWriter Bytes(int field, byte[] value)
    {
        Tag(field, 2).VarintRaw((ulong)value.Length);
        _bytes.AddRange(value);
        return this;
    }

    public ProtoWriter Message(int field, Action<ProtoWriter> build)
    {
        var inner = new ProtoWriter();
        build(inner);
        return Bytes(field, inner.ToArray());
    }

    /// <summary>A map&lt;string, string&gt; entry.</summary>
    public ProtoWriter Entry(int field, string key, string value) => Message(field, e => e.String(1, key).String(2, value));

    public ProtoWriter Fixed32(int field, uint value)
    {
        Tag(field, 5);
        _bytes.AddRange(BitConverter.GetBytes(value));
        return this;
    }

    public ProtoWriter Fixed64(int field, ulong value)
    {
        Tag(field, 1);
        _bytes.AddRange(BitConverter.GetBytes(value));
        return this;
    }

    public ProtoWriter Raw(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    /// <summary>metav1.ObjectMeta with a name and, if given, a namespace.</summary>
    public ProtoWriter Meta(string name, string? ns = null) => Message(1, m =>
    {
        m.String(1, name);
        if (ns is not null)
        {
            m.String(3, ns);
        }
    });

    public byte[] ToArray() => [.. _bytes];
}
