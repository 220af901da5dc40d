using System.Text.Json;
using System.Text.Json.Serialization;

namespace Switchboard.Node.Topology;

/// <summary>A process `up` started, identified by pid and start time so a recycled pid is never killed.</summary>
internal sealed record OwnedProcess(int Pid, long StartTime, string Name);

/// <summary>
/// &lt;data-dir&gt;/run/owned.json: every kernel object and process of the current run, written before the object is
/// made (processes right after their start: the pid is not known earlier), so a run after a crash removes exactly
/// what the crashed run left. Rewritten atomically (temp file + rename) so a crash never leaves half a file.
/// </summary>
internal sealed class OwnedState
{
    private readonly string _path;
    private readonly Lock _gate = new();
    private readonly OwnedDocument _doc;

    private OwnedState(string path, OwnedDocument doc)
    {
        _path = path;
        _doc = doc;
    }

    public string ClusterId => _doc.ClusterId;

    public IReadOnlyList<string> Namespaces
    {
        get
        {
            lock (_gate)
            {
                return [.. _doc.Namespaces];
            }
        }
    }

    public IReadOnlyList<OwnedProcess> Processes
    {
        get
        {
            lock (_gate)
            {
                return [.. _doc.Processes];
            }
        }
    }

    /// <summary>Loads what a previous run recorded (empty when there is nothing).</summary>
    public static OwnedState Load(string dataDir, string clusterId)
    {
        var path = Path.Combine(dataDir, "run", "owned.json");
        OwnedDocument? doc = null;
        if (File.Exists(path))
        {
            try
            {
                doc = JsonSerializer.Deserialize(File.ReadAllText(path), OwnedJson.Default.OwnedDocument);
            }
            catch (JsonException)
            {
                // A torn file cannot happen (rename), but a hand-edited one can: fall back to the name-prefix sweep.
            }
        }
        return new OwnedState(path, doc ?? new OwnedDocument { ClusterId = clusterId });
    }

    public void AddNamespace(string name)
    {
        lock (_gate)
        {
            if (!_doc.Namespaces.Contains(name))
            {
                _doc.Namespaces.Add(name);
                Save();
            }
        }
    }

    public void AddProcess(OwnedProcess process)
    {
        lock (_gate)
        {
            _doc.Processes.Add(process);
            Save();
        }
    }

    public void RemoveProcess(int pid)
    {
        lock (_gate)
        {
            _doc.Processes.RemoveAll(p => p.Pid == pid);
            Save();
        }
    }

    public void RemoveNamespace(string name)
    {
        lock (_gate)
        {
            _doc.Namespaces.Remove(name);
            Save();
        }
    }

    private void Save()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        var tmp = _path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(_doc, OwnedJson.Default.OwnedDocument));
        File.Move(tmp, _path, overwrite: true);
    }
}

internal sealed class OwnedDocument
{
    public string ClusterId { get; set; } = "";

    public List<string> Namespaces { get; set; } = [];

    public List<OwnedProcess> Processes { get; set; } = [];
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(OwnedDocument))]
internal sealed partial class OwnedJson : JsonSerializerContext;
