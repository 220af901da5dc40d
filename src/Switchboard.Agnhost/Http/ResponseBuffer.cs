using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Switchboard.Agnhost.Http;

/// <summary>A growable pooled byte buffer for one connection's outgoing bytes.</summary>
internal sealed class ResponseBuffer : IDisposable
{
    private byte[] buffer = ArrayPool<byte>.Shared.Rent(1024);

    public int Length { get; private set; }

    public ReadOnlyMemory<byte> Written => buffer.AsMemory(0, Length);

    public void Clear() => Length = 0;

    public void Append(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    /// <summary>Header text is ASCII by construction; anything else is replaced, never split into a new line.</summary>
    public void AppendAscii(string text)
    {
        Ensure(text.Length);
        var span = buffer.AsSpan(Length, text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            span[i] = c is '\r' or '\n' || c > 0x7e ? (byte)'?' : (byte)c;
        }

        Length += text.Length;
    }

    public void AppendUtf8(string text)
    {
        Ensure(Encoding.UTF8.GetMaxByteCount(text.Length));
        Length += Encoding.UTF8.GetBytes(text, buffer.AsSpan(Length));
    }

    public void AppendInt(long value)
    {
        Ensure(20);
        Utf8Formatter.TryFormat(value, buffer.AsSpan(Length), out var written);
        Length += written;
    }

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(buffer);
        buffer = [];
    }

    private void Ensure(int extra)
    {
        if (Length + extra <= buffer.Length)
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(buffer.Length * 2, Length + extra));
        buffer.AsSpan(0, Length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(buffer);
        buffer = bigger;
    }
}
