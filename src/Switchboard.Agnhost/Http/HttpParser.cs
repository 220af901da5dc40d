using System.Text;

namespace Switchboard.Agnhost.Http;

internal enum ParseStatus
{
    Complete,
    Incomplete,
    Invalid,
}

/// <summary>Where the parts of one request head lie in the connection buffer, plus the framing facts.</summary>
internal struct RequestHead
{
    public int MethodStart;
    public int MethodLength;
    public int TargetStart;
    public int TargetLength;
    public int HeadersStart;
    public int HeadersLength;

    /// <summary>First byte after the blank line that ends the head.</summary>
    public int BodyStart;
    public bool Http11;

    /// <summary>-1 when there is no Content-Length header.</summary>
    public long ContentLength;
    public bool Chunked;

    /// <summary>The client asked not to keep the connection (or HTTP/1.0 without keep-alive).</summary>
    public bool Close;
    public bool ExpectContinue;
    public bool FormUrlEncoded;
}

/// <summary>
/// Strict, allocation-free HTTP/1.x request parser over a buffer that may hold a partial or several requests.
/// Its rules follow Go's net/http server, which upstream agnhost runs on: bare LF accepted as line end,
/// Host required for HTTP/1.1, Transfer-Encoding other than chunked is 501, HTTP/2+ request lines 505.
/// </summary>
internal static class HttpParser
{
    public const int MaxHeaderBytes = (1 << 20) + 4096;

    public static ParseStatus TryParseHead(ReadOnlySpan<byte> buffer, out RequestHead head, out int errorStatus, out string errorText)
    {
        head = default;
        head.ContentLength = -1;
        errorStatus = 400;
        errorText = string.Empty;

        var pos = 0;

        // RFC 9112 2.2: a server SHOULD ignore empty lines before the request line (clients send a stray CRLF after bodies).
        while (pos < buffer.Length && (buffer[pos] == '\r' || buffer[pos] == '\n'))
        {
            pos++;
        }

        var nl = buffer[pos..].IndexOf((byte)'\n');
        if (nl < 0)
        {
            return Incomplete(buffer, out errorStatus, out errorText);
        }

        var line = TrimCr(buffer.Slice(pos, nl));
        var lineStart = pos;
        pos += nl + 1;

        var sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0)
        {
            return Invalid(400, "malformed HTTP request", out errorStatus, out errorText);
        }

        var rest = line[(sp1 + 1)..];
        var sp2 = rest.IndexOf((byte)' ');
        if (sp2 < 0)
        {
            return Invalid(400, "malformed HTTP request", out errorStatus, out errorText);
        }

        var method = line[..sp1];
        var target = rest[..sp2];
        var version = rest[(sp2 + 1)..];
        if (!IsToken(method))
        {
            return Invalid(400, "invalid method", out errorStatus, out errorText);
        }

        if (!TryParseVersion(version, out var major, out var minor))
        {
            return Invalid(400, "malformed HTTP version", out errorStatus, out errorText);
        }

        if (major != 1)
        {
            return Invalid(505, "unsupported protocol version", out errorStatus, out errorText);
        }

        if (target.IsEmpty || !IsValidTarget(target, method))
        {
            return Invalid(400, "malformed request URI", out errorStatus, out errorText);
        }

        head.MethodStart = lineStart;
        head.MethodLength = sp1;
        head.TargetStart = lineStart + sp1 + 1;
        head.TargetLength = sp2;
        head.Http11 = minor >= 1;
        head.HeadersStart = pos;

        var hostCount = 0;
        var connectionClose = false;
        var connectionKeepAlive = false;
        var sawTransferEncoding = false;
        while (true)
        {
            nl = buffer[pos..].IndexOf((byte)'\n');
            if (nl < 0)
            {
                return Incomplete(buffer, out errorStatus, out errorText);
            }

            line = TrimCr(buffer.Slice(pos, nl));
            var lineBegin = pos;
            pos += nl + 1;
            if (line.IsEmpty)
            {
                head.HeadersLength = lineBegin - head.HeadersStart;
                head.BodyStart = pos;
                break;
            }

            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || !IsToken(line[..colon]))
            {
                // Also rejects obs-fold continuation lines and whitespace before the colon (RFC 9112 5.1).
                return Invalid(400, "malformed MIME header line", out errorStatus, out errorText);
            }

            var name = line[..colon];
            var value = Trim(line[(colon + 1)..]);
            if (!IsValidValue(value))
            {
                return Invalid(400, "invalid header value", out errorStatus, out errorText);
            }

            if (name.Length == 4 && Ascii.EqualsIgnoreCase(name, "host"u8))
            {
                hostCount++;
            }
            else if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
            {
                if (!TryParseContentLength(value, out var length) || (head.ContentLength >= 0 && head.ContentLength != length))
                {
                    return Invalid(400, "invalid Content-Length", out errorStatus, out errorText);
                }

                head.ContentLength = length;
            }
            else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
            {
                if (sawTransferEncoding || !Ascii.EqualsIgnoreCase(value, "chunked"u8))
                {
                    return Invalid(501, "unsupported transfer encoding", out errorStatus, out errorText);
                }

                sawTransferEncoding = true;
                head.Chunked = true;
            }
            else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
            {
                ScanConnection(value, ref connectionClose, ref connectionKeepAlive);
            }
            else if (Ascii.EqualsIgnoreCase(name, "expect"u8))
            {
                if (!Ascii.EqualsIgnoreCase(value, "100-continue"u8))
                {
                    return Invalid(417, "Expectation Failed", out errorStatus, out errorText);
                }

                head.ExpectContinue = true;
            }
            else if (Ascii.EqualsIgnoreCase(name, "content-type"u8))
            {
                var mediaEnd = value.IndexOf((byte)';');
                var media = Trim(mediaEnd >= 0 ? value[..mediaEnd] : value);
                head.FormUrlEncoded = Ascii.EqualsIgnoreCase(media, "application/x-www-form-urlencoded"u8);
            }
        }

        if (hostCount > 1)
        {
            return Invalid(400, "too many Host headers", out errorStatus, out errorText);
        }

        if (head.Http11 && hostCount == 0)
        {
            return Invalid(400, "missing required Host header", out errorStatus, out errorText);
        }

        if (head.Chunked)
        {
            // A chunked body wins over Content-Length (RFC 9112 6.3), as in Go.
            head.ContentLength = -1;
        }

        head.Close = head.Http11 ? connectionClose : !connectionKeepAlive || connectionClose;
        return ParseStatus.Complete;
    }

    /// <summary>
    /// Decodes a chunked body that starts at the beginning of <paramref name="data"/>. On Complete,
    /// <paramref name="consumed"/> covers the last chunk and trailers.
    /// </summary>
    public static ParseStatus TryDecodeChunked(ReadOnlySpan<byte> data, long maxBody, out byte[] body, out int consumed)
    {
        body = [];
        consumed = 0;
        var total = 0L;
        var pos = 0;

        // First pass validates and measures; decoded only once the whole body is here.
        while (true)
        {
            var nl = data[pos..].IndexOf((byte)'\n');
            if (nl < 0)
            {
                return data.Length - pos > 4096 ? ParseStatus.Invalid : ParseStatus.Incomplete;
            }

            var line = TrimCr(data.Slice(pos, nl));
            var ext = line.IndexOf((byte)';');
            var sizeText = ext >= 0 ? line[..ext] : line;
            if (!TryParseHex(sizeText, out var size))
            {
                return ParseStatus.Invalid;
            }

            pos += nl + 1;
            if (size == 0)
            {
                // Trailers until an empty line.
                while (true)
                {
                    nl = data[pos..].IndexOf((byte)'\n');
                    if (nl < 0)
                    {
                        return data.Length - pos > 4096 ? ParseStatus.Invalid : ParseStatus.Incomplete;
                    }

                    var trailer = TrimCr(data.Slice(pos, nl));
                    pos += nl + 1;
                    if (trailer.IsEmpty)
                    {
                        break;
                    }

                    if (trailer.IndexOf((byte)':') <= 0)
                    {
                        return ParseStatus.Invalid;
                    }
                }

                break;
            }

            total += size;
            if (total > maxBody)
            {
                return ParseStatus.Invalid;
            }

            if (data.Length - pos < size)
            {
                return ParseStatus.Incomplete;
            }

            pos += (int)size;
            if (data.Length - pos < 1)
            {
                return ParseStatus.Incomplete;
            }

            if (data[pos] == '\r')
            {
                if (data.Length - pos < 2)
                {
                    return ParseStatus.Incomplete;
                }

                if (data[pos + 1] != '\n')
                {
                    return ParseStatus.Invalid;
                }

                pos += 2;
            }
            else if (data[pos] == '\n')
            {
                pos++;
            }
            else
            {
                return ParseStatus.Invalid;
            }
        }

        consumed = pos;
        body = new byte[total];
        var written = 0;
        pos = 0;
        while (written < total)
        {
            var nl = data[pos..].IndexOf((byte)'\n');
            var line = TrimCr(data.Slice(pos, nl));
            var ext = line.IndexOf((byte)';');
            _ = TryParseHex(ext >= 0 ? line[..ext] : line, out var size);
            pos += nl + 1;
            data.Slice(pos, (int)size).CopyTo(body.AsSpan(written));
            written += (int)size;
            pos += (int)size;
            pos += data[pos] == '\r' ? 2 : 1;
        }

        return ParseStatus.Complete;
    }

    /// <summary>The first value of a header in a raw header block, or null.</summary>
    public static string? GetHeader(ReadOnlySpan<byte> headers, ReadOnlySpan<byte> name)
    {
        var e = new HeaderEnumerator(headers);
        while (e.MoveNext())
        {
            if (Ascii.EqualsIgnoreCase(e.Name, name))
            {
                return Encoding.Latin1.GetString(e.Value);
            }
        }

        return null;
    }

    public static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> line) =>
        !line.IsEmpty && line[^1] == '\r' ? line[..^1] : line;

    public static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> s)
    {
        var start = 0;
        while (start < s.Length && (s[start] == ' ' || s[start] == '\t'))
        {
            start++;
        }

        var end = s.Length;
        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        {
            end--;
        }

        return s[start..end];
    }

    public static bool IsToken(ReadOnlySpan<byte> s)
    {
        if (s.IsEmpty)
        {
            return false;
        }

        foreach (var b in s)
        {
            if (!IsTokenChar(b))
            {
                return false;
            }
        }

        return true;
    }

    public static bool IsTokenChar(byte b) =>
        b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z' or >= (byte)'0' and <= (byte)'9'
            or (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\'' or (byte)'*'
            or (byte)'+' or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~';

    private static ParseStatus Incomplete(ReadOnlySpan<byte> buffer, out int errorStatus, out string errorText)
    {
        if (buffer.Length > MaxHeaderBytes)
        {
            errorStatus = 431;
            errorText = "Request Header Fields Too Large";
            return ParseStatus.Invalid;
        }

        errorStatus = 0;
        errorText = string.Empty;
        return ParseStatus.Incomplete;
    }

    private static ParseStatus Invalid(int status, string text, out int errorStatus, out string errorText)
    {
        errorStatus = status;
        errorText = text;
        return ParseStatus.Invalid;
    }

    private static bool TryParseVersion(ReadOnlySpan<byte> version, out int major, out int minor)
    {
        major = minor = 0;
        if (!version.StartsWith("HTTP/"u8))
        {
            return false;
        }

        var digits = version[5..];
        var dot = digits.IndexOf((byte)'.');
        return dot > 0 && TryParseSmall(digits[..dot], out major) && TryParseSmall(digits[(dot + 1)..], out minor);
    }

    private static bool TryParseSmall(ReadOnlySpan<byte> s, out int value)
    {
        value = 0;
        if (s.IsEmpty || s.Length > 3)
        {
            return false;
        }

        foreach (var b in s)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            value = (value * 10) + (b - '0');
        }

        return true;
    }

    private static bool TryParseContentLength(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.IsEmpty || s.Length > 18)
        {
            return false;
        }

        foreach (var b in s)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            value = (value * 10) + (b - '0');
        }

        return true;
    }

    private static bool TryParseHex(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        s = Trim(s);
        if (s.IsEmpty || s.Length > 15)
        {
            return false;
        }

        foreach (var b in s)
        {
            int d = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                _ => -1,
            };
            if (d < 0)
            {
                return false;
            }

            value = (value << 4) | (uint)d;
        }

        return true;
    }

    private static bool IsValidValue(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
        {
            if ((b < 0x20 && b != '\t') || b == 0x7f)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsValidTarget(ReadOnlySpan<byte> target, ReadOnlySpan<byte> method)
    {
        foreach (var b in target)
        {
            if (b <= 0x20 || b == 0x7f)
            {
                return false;
            }
        }

        if (target[0] == '/')
        {
            return true;
        }

        if (target is [(byte)'*'])
        {
            return method.SequenceEqual("OPTIONS"u8);
        }

        if (method.SequenceEqual("CONNECT"u8))
        {
            return true;
        }

        // absolute-form: scheme "://" authority path.
        var scheme = target.IndexOf("://"u8);
        return scheme > 0 && char.IsAsciiLetter((char)target[0]);
    }

    private static void ScanConnection(ReadOnlySpan<byte> value, ref bool close, ref bool keepAlive)
    {
        while (!value.IsEmpty)
        {
            var comma = value.IndexOf((byte)',');
            var token = Trim(comma >= 0 ? value[..comma] : value);
            if (Ascii.EqualsIgnoreCase(token, "close"u8))
            {
                close = true;
            }
            else if (Ascii.EqualsIgnoreCase(token, "keep-alive"u8))
            {
                keepAlive = true;
            }

            value = comma >= 0 ? value[(comma + 1)..] : [];
        }
    }
}

/// <summary>Enumerates "name: value" pairs of a raw header block already validated by the parser.</summary>
internal ref struct HeaderEnumerator(ReadOnlySpan<byte> headers)
{
    private ReadOnlySpan<byte> rest = headers;

    public ReadOnlySpan<byte> Name { get; private set; }

    public ReadOnlySpan<byte> Value { get; private set; }

    public bool MoveNext()
    {
        while (!rest.IsEmpty)
        {
            var nl = rest.IndexOf((byte)'\n');
            var line = HttpParser.TrimCr(nl >= 0 ? rest[..nl] : rest);
            rest = nl >= 0 ? rest[(nl + 1)..] : [];
            var colon = line.IndexOf((byte)':');
            if (colon > 0)
            {
                Name = line[..colon];
                Value = HttpParser.Trim(line[(colon + 1)..]);
                return true;
            }
        }

        return false;
    }
}
