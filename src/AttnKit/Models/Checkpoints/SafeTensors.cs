using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Models.Checkpoints;

/// <summary>One tensor's entry in a safetensors header.</summary>
/// <param name="Name">The tensor's name.</param>
/// <param name="DType">The file's dtype string (F32, F16, BF16 …).</param>
/// <param name="Shape">The shape.</param>
/// <param name="Begin">Offset of the first byte, from the start of the data section.</param>
/// <param name="End">Offset one past the last byte.</param>
public sealed record SafeTensorEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>
/// The safetensors format (Hugging Face): an 8-byte little-endian header length n, n bytes of UTF-8 JSON mapping each
/// tensor's name to {dtype, shape, data_offsets: [begin, end]} (plus an optional "__metadata__" map of strings), then
/// the raw little-endian tensor bytes. The reader validates everything before it reads a byte of data: the header's
/// length against the file, the JSON, each dtype, that each shape's size matches its byte span, that spans lie inside
/// the data and do not overlap, and that they cover the data section exactly. A bad or truncated file gets an
/// <see cref="InvalidDataException"/> saying what is wrong and where.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>Headers larger than this are refused (the format's reference implementation uses 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly FileStream stream;
    private readonly long dataStart;

    /// <summary>The path read.</summary>
    public string Path { get; }
    /// <summary>The tensors, in file order.</summary>
    public IReadOnlyList<SafeTensorEntry> Entries { get; }
    /// <summary>The "__metadata__" map (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafeTensorsFile(string path, FileStream stream, long dataStart, List<SafeTensorEntry> entries, Dictionary<string, string> metadata)
    {
        (Path, this.stream, this.dataStart, Entries, Metadata) = (path, stream, dataStart, entries, metadata);
    }

    /// <summary>Opens and validates <paramref name="path"/>; reads tensors on demand.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file.</exception>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"no safetensors file at {path}", path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            var (dataStart, entries, metadata) = ReadHeader(stream, path);
            return new SafeTensorsFile(path, stream, dataStart, entries, metadata);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The entry named <paramref name="name"/>, or null.</summary>
    public SafeTensorEntry? Find(string name) => Entries.FirstOrDefault(e => e.Name == name);

    /// <summary>Reads a tensor to the CPU in its stored dtype.</summary>
    public Tensor Read(SafeTensorEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        long bytes = entry.End - entry.Begin;
        if (bytes > Array.MaxLength)
            throw new InvalidDataException($"{Path}: tensor '{entry.Name}' has {bytes} bytes, more than one read can hold");
        var buffer = new byte[bytes];
        stream.Seek(dataStart + entry.Begin, SeekOrigin.Begin);
        stream.ReadExactly(buffer);
        var t = torch.empty(entry.Shape, DTypes.ToScalar(entry.DType));
        if (bytes > 0) t.bytes = buffer;
        return t;
    }

    /// <summary>Reads the tensor named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No tensor of that name.</exception>
    public Tensor Read(string name) => Read(Find(name) ?? throw new KeyNotFoundException($"{Path}: no tensor named '{name}'"));

    /// <inheritdoc/>
    public void Dispose() => stream.Dispose();

    private static (long DataStart, List<SafeTensorEntry> Entries, Dictionary<string, string> Metadata) ReadHeader(FileStream stream, string path)
    {
        long fileLength = stream.Length;
        if (fileLength < 8) throw Bad(path, $"the file has {fileLength} bytes; a safetensors file starts with an 8-byte header length");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BitConverter.ToUInt64(lengthBytes);
        if (headerLength > MaxHeaderBytes) throw Bad(path, $"the header length {headerLength} exceeds {MaxHeaderBytes} bytes: not a safetensors file, or a corrupt one");
        if ((long)headerLength > fileLength - 8) throw Bad(path, $"the header says {headerLength} bytes but only {fileLength - 8} follow: the file is truncated");
        var header = new byte[headerLength];
        stream.ReadExactly(header);
        JsonObject root;
        try
        {
            _ = StrictUtf8.GetCharCount(header);
            root = JsonNode.Parse(header) as JsonObject ?? throw Bad(path, "the header is not a JSON object");
        }
        catch (Exception e) when (e is JsonException or DecoderFallbackException or InvalidOperationException)
        {
            throw Bad(path, $"the header is not valid UTF-8 JSON ({e.Message})");
        }
        long dataStart = 8 + (long)headerLength, dataLength = fileLength - dataStart;
        var metadata = new Dictionary<string, string>();
        var entries = new List<SafeTensorEntry>();
        foreach (var (name, node) in root)
        {
            if (name == "__metadata__")
            {
                if (node is not JsonObject meta) throw Bad(path, "__metadata__ must be an object of strings");
                foreach (var (k, v) in meta)
                    metadata[k] = v is JsonValue jv && jv.TryGetValue<string>(out var s) ? s : throw Bad(path, $"__metadata__['{k}'] must be a string");
                continue;
            }
            try { entries.Add(ParseEntry(path, name, node, dataLength)); }
            catch (OverflowException) { throw Bad(path, $"tensor '{name}': its shape is too large to address"); }
        }
        entries.Sort((a, b) => a.Begin.CompareTo(b.Begin));
        long cursor = 0;
        foreach (var e in entries)
        {
            if (e.Begin != cursor)
                throw Bad(path, e.Begin < cursor ? $"tensor '{e.Name}' overlaps the one before it (starts at {e.Begin}, the previous ends at {cursor})" : $"there is a gap of {e.Begin - cursor} bytes before tensor '{e.Name}'");
            cursor = e.End;
        }
        if (cursor != dataLength)
            throw Bad(path, cursor > dataLength ? $"the tensors need {cursor} bytes of data but the file has {dataLength}: it is truncated" : $"{dataLength - cursor} bytes after the last tensor belong to none");
        stream.Seek(dataStart, SeekOrigin.Begin);
        return (dataStart, entries, metadata);
    }

    private static SafeTensorEntry ParseEntry(string path, string name, JsonNode? node, long dataLength)
    {
        if (node is not JsonObject o) throw Bad(path, $"tensor '{name}': expected an object with dtype, shape and data_offsets");
        string dtype = o["dtype"] is JsonValue dv && dv.TryGetValue<string>(out var ds) ? ds : throw Bad(path, $"tensor '{name}': missing dtype");
        if (!DTypes.Known(dtype)) throw Bad(path, $"tensor '{name}': dtype '{dtype}' is not one the kit reads ({string.Join(", ", DTypes.Names)})");
        if (o["shape"] is not JsonArray shapeArray) throw Bad(path, $"tensor '{name}': missing shape");
        var shape = new long[shapeArray.Count];
        for (int i = 0; i < shape.Length; i++)
            shape[i] = shapeArray[i] is JsonValue sv && sv.TryGetValue<long>(out var d) && d >= 0 ? d : throw Bad(path, $"tensor '{name}': shape[{i}] is not a non-negative integer");
        if (o["data_offsets"] is not JsonArray offsets || offsets.Count != 2) throw Bad(path, $"tensor '{name}': data_offsets must be [begin, end]");
        long Offset(int i) => offsets[i] is JsonValue ov && ov.TryGetValue<long>(out var x) && x >= 0 ? x : throw Bad(path, $"tensor '{name}': data_offsets[{i}] is not a non-negative integer");
        long begin = Offset(0), end = Offset(1);
        if (end < begin) throw Bad(path, $"tensor '{name}': data_offsets end {end} is before begin {begin}");
        if (end > dataLength) throw Bad(path, $"tensor '{name}' ends at byte {end} of the data but the file has {dataLength}: it is truncated");
        long elements = 1;
        foreach (var d in shape) elements = checked(elements * d);
        long expected = checked(elements * DTypes.Size(dtype));
        if (expected != end - begin) throw Bad(path, $"tensor '{name}': shape ({string.Join(", ", shape)}) of {dtype} needs {expected} bytes, data_offsets give {end - begin}");
        return new SafeTensorEntry(name, dtype, shape, begin, end);
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    private static InvalidDataException Bad(string path, string what) => new($"{path}: not a valid safetensors file: {what}");
}

/// <summary>Writes safetensors files.</summary>
public static class SafeTensors
{
    /// <summary>
    /// Writes <paramref name="tensors"/> (name → tensor, any device, any of the supported dtypes) to
    /// <paramref name="path"/>, atomically (a temporary file, then a rename). The header is padded with spaces to a
    /// multiple of 8 bytes, as the reference implementation does.
    /// </summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        foreach (var name in names)
        {
            if (name == "__metadata__") throw new ArgumentException($"{nameof(tensors)}: '__metadata__' is reserved", nameof(tensors));
            var t = tensors[name] ?? throw new ArgumentException($"{nameof(tensors)}: tensor '{name}' is null", nameof(tensors));
            string dtype = DTypes.FromScalar(t.dtype) ?? throw new ArgumentException($"{nameof(tensors)}: tensor '{name}' has dtype {t.dtype}, which safetensors files here do not hold", nameof(tensors));
            long bytes = t.NumberOfElements * DTypes.Size(dtype);
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(t.shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var tmp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write))
            {
                f.Write(BitConverter.GetBytes((ulong)padded));
                f.Write(json);
                for (int i = json.Length; i < padded; i++) f.WriteByte((byte)' ');
                foreach (var name in names)
                {
                    using var cpu = tensors[name].detach().cpu().contiguous();
                    if (cpu.NumberOfElements > 0) f.Write(cpu.bytes);
                }
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}

/// <summary>safetensors dtype names and their TorchSharp counterparts.</summary>
internal static class DTypes
{
    private static readonly (string Name, ScalarType Type, int Size)[] Table =
    [
        ("F64", ScalarType.Float64, 8), ("F32", ScalarType.Float32, 4), ("F16", ScalarType.Float16, 2), ("BF16", ScalarType.BFloat16, 2),
        ("I64", ScalarType.Int64, 8), ("I32", ScalarType.Int32, 4), ("I16", ScalarType.Int16, 2), ("I8", ScalarType.Int8, 1),
        ("U8", ScalarType.Byte, 1), ("BOOL", ScalarType.Bool, 1),
    ];

    public static IEnumerable<string> Names => Table.Select(t => t.Name);
    public static bool Known(string name) => Table.Any(t => t.Name == name);
    public static ScalarType ToScalar(string name) => Table.First(t => t.Name == name).Type;
    public static int Size(string name) => Table.First(t => t.Name == name).Size;
    public static string? FromScalar(ScalarType type) => Table.Where(t => t.Type == type).Select(t => t.Name).FirstOrDefault();
}
