using System.Runtime.InteropServices;

namespace Switchboard.Node.KubeletApi.Spdy;

/// <summary>
/// One direction of SPDY header compression: a zlib stream that lives as long as the session, with SPDY's preset
/// dictionary, each header block ended by a sync flush. System.IO.Compression has no preset dictionaries, so this
/// calls the system zlib (libz.so.1, Debian's required zlib1g) directly. The z_stream lives in native memory because
/// zlib keeps a pointer back to it.
/// </summary>
internal sealed unsafe partial class ZlibStream : IDisposable
{
    private const int ZOk = 0;
    private const int ZStreamEnd = 1;
    private const int ZNeedDict = 2;
    private const int ZBufError = -5;
    private const int ZSyncFlush = 2;
    private const int ZDefaultCompression = -1;
    private const string Version = "1.2.11";

    private readonly ZStream* _z;
    private readonly bool _deflate;
    private readonly byte[] _dictionary;
    private bool _disposed;

    private ZlibStream(bool deflate, byte[] dictionary)
    {
        _deflate = deflate;
        _dictionary = dictionary;
        _z = (ZStream*)NativeMemory.AllocZeroed((nuint)sizeof(ZStream));
        var rc = deflate ? DeflateInit(_z, ZDefaultCompression, Version, sizeof(ZStream)) : InflateInit(_z, Version, sizeof(ZStream));
        if (rc != ZOk)
        {
            NativeMemory.Free(_z);
            throw new InvalidOperationException($"zlib init failed: {rc}");
        }
        if (deflate)
        {
            fixed (byte* d = dictionary)
            {
                if (DeflateSetDictionary(_z, d, (uint)dictionary.Length) != ZOk)
                {
                    _ = DeflateEnd(_z);
                    NativeMemory.Free(_z);
                    throw new InvalidOperationException("zlib deflateSetDictionary failed");
                }
            }
        }
    }

    public static ZlibStream Compressor(byte[] dictionary) => new(true, dictionary);

    public static ZlibStream Decompressor(byte[] dictionary) => new(false, dictionary);

    /// <summary>Compresses one header block and ends it with a sync flush.</summary>
    public byte[] Compress(ReadOnlySpan<byte> input)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var output = new List<byte>(input.Length / 2 + 64);
        var chunk = new byte[4096];
        fixed (byte* inPtr = input)
        fixed (byte* outPtr = chunk)
        {
            _z->NextIn = inPtr;
            _z->AvailIn = (uint)input.Length;
            do
            {
                _z->NextOut = outPtr;
                _z->AvailOut = (uint)chunk.Length;
                var rc = Deflate(_z, ZSyncFlush);
                if (rc != ZOk && rc != ZBufError)
                {
                    throw new InvalidDataException($"zlib deflate failed: {rc}");
                }
                output.AddRange(chunk.AsSpan(0, chunk.Length - (int)_z->AvailOut).ToArray());
            }
            while (_z->AvailOut == 0);
        }
        return [.. output];
    }

    /// <summary>Decompresses one header block (everything the peer flushed for it); at most <paramref name="limit"/> bytes out.</summary>
    public byte[] Decompress(ReadOnlySpan<byte> input, int limit)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var output = new List<byte>(input.Length * 3);
        var chunk = new byte[4096];
        fixed (byte* inPtr = input)
        fixed (byte* outPtr = chunk)
        {
            _z->NextIn = inPtr;
            _z->AvailIn = (uint)input.Length;
            while (true)
            {
                _z->NextOut = outPtr;
                _z->AvailOut = (uint)chunk.Length;
                var rc = Inflate(_z, ZSyncFlush);
                if (rc == ZNeedDict)
                {
                    fixed (byte* d = _dictionary)
                    {
                        if (InflateSetDictionary(_z, d, (uint)_dictionary.Length) != ZOk)
                        {
                            throw new InvalidDataException("header block asks for a different zlib dictionary");
                        }
                    }
                    continue;
                }
                if (rc != ZOk && rc != ZBufError && rc != ZStreamEnd)
                {
                    throw new InvalidDataException($"header block is not valid zlib data ({rc})");
                }
                var produced = chunk.Length - (int)_z->AvailOut;
                output.AddRange(chunk.AsSpan(0, produced).ToArray());
                if (output.Count > limit)
                {
                    throw new InvalidDataException($"header block larger than {limit} bytes");
                }
                if (_z->AvailIn == 0 && _z->AvailOut != 0 || rc == ZBufError || rc == ZStreamEnd)
                {
                    break;
                }
            }
        }
        return [.. output];
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _ = _deflate ? DeflateEnd(_z) : InflateEnd(_z);
        NativeMemory.Free(_z);
    }

    /// <summary>zlib's z_stream on LP64 Linux (112 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct ZStream
    {
        public byte* NextIn;
        public uint AvailIn;
        public nuint TotalIn;
        public byte* NextOut;
        public uint AvailOut;
        public nuint TotalOut;
        public nint Msg;
        public nint State;
        public nint ZAlloc;
        public nint ZFree;
        public nint Opaque;
        public int DataType;
        public nuint Adler;
        public nuint Reserved;
    }

    [LibraryImport("libz.so.1", EntryPoint = "deflateInit_", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int DeflateInit(ZStream* strm, int level, string version, int streamSize);

    [LibraryImport("libz.so.1", EntryPoint = "deflateSetDictionary")]
    private static partial int DeflateSetDictionary(ZStream* strm, byte* dictionary, uint length);

    [LibraryImport("libz.so.1", EntryPoint = "deflate")]
    private static partial int Deflate(ZStream* strm, int flush);

    [LibraryImport("libz.so.1", EntryPoint = "deflateEnd")]
    private static partial int DeflateEnd(ZStream* strm);

    [LibraryImport("libz.so.1", EntryPoint = "inflateInit_", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int InflateInit(ZStream* strm, string version, int streamSize);

    [LibraryImport("libz.so.1", EntryPoint = "inflateSetDictionary")]
    private static partial int InflateSetDictionary(ZStream* strm, byte* dictionary, uint length);

    [LibraryImport("libz.so.1", EntryPoint = "inflate")]
    private static partial int Inflate(ZStream* strm, int flush);

    [LibraryImport("libz.so.1", EntryPoint = "inflateEnd")]
    private static partial int InflateEnd(ZStream* strm);
}
