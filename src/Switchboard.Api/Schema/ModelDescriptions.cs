using System.Collections.Frozen;
using System.Reflection;
using System.Text;
using System.Xml;
using k8s.Models;

namespace Switchboard.Api.Schema;

/// <summary>
/// The &lt;summary&gt; text of KubernetesClient's model types and properties, which is upstream's field documentation:
/// what <c>kubectl explain</c> prints. Loaded on first use from, in order: the trimmed copy the build embeds
/// (ModelDescriptions.targets; the package's KubernetesClient.xml reaches neither build nor publish output), a
/// KubernetesClient.xml beside the model assembly or the app, else nothing (descriptions are then empty, never fatal).
/// </summary>
internal sealed class ModelDescriptions
{
    /// <summary>Logical name the build gives the embedded copy (see ModelDescriptions.targets).</summary>
    public const string ResourceName = "Switchboard.Api.Schema.ModelDescriptions.xml";
    private const string TypePrefix = "T:k8s.Models.";
    private const string PropertyPrefix = "P:k8s.Models.";

    private readonly Lazy<FrozenDictionary<string, string>> _entries;

    private ModelDescriptions(Func<FrozenDictionary<string, string>> load) =>
        _entries = new Lazy<FrozenDictionary<string, string>>(load, LazyThreadSafetyMode.ExecutionAndPublication);

    public static ModelDescriptions Empty { get; } = new(() => FrozenDictionary<string, string>.Empty);

    /// <summary>Embedded copy, else XML docs beside the assembly; see the type remarks.</summary>
    public static ModelDescriptions FromDefaultSources() => new(LoadDefault);

    /// <summary>From an XML documentation file (full or trimmed); a missing or unreadable file gives no descriptions.</summary>
    public static ModelDescriptions FromFile(string path) => new(() => TryLoadFile(path) ?? FrozenDictionary<string, string>.Empty);

    public int Count => _entries.Value.Count;

    public string? ForType(Type type) => _entries.Value.GetValueOrDefault(TypePrefix + type.Name);

    public string? ForProperty(PropertyInfo property) =>
        property.DeclaringType is { } declaring
            ? _entries.Value.GetValueOrDefault(PropertyPrefix + declaring.Name + "." + property.Name)
            : null;

    private static FrozenDictionary<string, string> LoadDefault()
    {
        using (var embedded = typeof(ModelDescriptions).Assembly.GetManifestResourceStream(ResourceName))
        {
            if (embedded is not null && Parse(embedded) is { Count: > 0 } fromResource)
            {
                return fromResource;
            }
        }

        var modelAssembly = typeof(V1Pod).Assembly;
        var fileName = Path.ChangeExtension(Path.GetFileName(modelAssembly.Location), ".xml");
        string[] candidates =
        [
            // Location is "" in single-file apps; AppContext.BaseDirectory still points at the app folder.
            modelAssembly.Location.Length > 0 ? Path.ChangeExtension(modelAssembly.Location, ".xml") : "",
            Path.Combine(AppContext.BaseDirectory, fileName.Length > 0 ? fileName : "KubernetesClient.xml"),
        ];
        foreach (var candidate in candidates)
        {
            if (candidate.Length > 0 && TryLoadFile(candidate) is { Count: > 0 } fromFile)
            {
                return fromFile;
            }
        }
        return FrozenDictionary<string, string>.Empty;
    }

    private static FrozenDictionary<string, string>? TryLoadFile(string path)
    {
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }
            using var stream = File.OpenRead(path);
            return Parse(stream);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or XmlException)
        {
            // Descriptions are documentation: a broken file must not take the API server down.
            return null;
        }
    }

    /// <summary>Streams the XML doc format, keeping only k8s.Models type/property summaries.</summary>
    internal static FrozenDictionary<string, string> Parse(Stream xml)
    {
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
        };
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var text = new StringBuilder();
        try
        {
            using var reader = XmlReader.Create(xml, settings);
            while (reader.ReadToFollowing("member"))
            {
                var name = reader.GetAttribute("name");
                if (name is null
                    || !(name.StartsWith(TypePrefix, StringComparison.Ordinal) || name.StartsWith(PropertyPrefix, StringComparison.Ordinal)))
                {
                    continue;
                }
                using var member = reader.ReadSubtree();
                if (!member.ReadToDescendant("summary"))
                {
                    continue;
                }
                text.Clear();
                AppendNormalized(text, ReadText(member));
                if (text.Length > 0)
                {
                    result[name] = text.ToString();
                }
            }
        }
        catch (XmlException)
        {
            // Keep whatever was read before the damage.
        }
        return result.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>Text content of the current element, children included (see/para tags contribute their text).</summary>
    private static string ReadText(XmlReader reader)
    {
        if (reader.IsEmptyElement)
        {
            return "";
        }
        var depth = reader.Depth;
        var sb = new StringBuilder();
        while (reader.Read() && reader.Depth > depth)
        {
            if (reader.NodeType is XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace)
            {
                sb.Append(reader.Value);
            }
        }
        return sb.ToString();
    }

    /// <summary>Collapses whitespace runs (the doc files wrap lines) like XPath normalize-space.</summary>
    private static void AppendNormalized(StringBuilder target, string value)
    {
        var pendingSpace = false;
        foreach (var c in value)
        {
            if (char.IsWhiteSpace(c))
            {
                pendingSpace = target.Length > 0;
                continue;
            }
            if (pendingSpace)
            {
                target.Append(' ');
                pendingSpace = false;
            }
            target.Append(c);
        }
    }
}
