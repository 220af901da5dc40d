using System.Security.Cryptography;

namespace Switchboard.Node.Topology;

/// <summary>
/// The 6-character id in &lt;data-dir&gt;/cluster-id that names every kernel object (sb-&lt;id&gt;-…): stable across
/// resumes, so a run can find a crashed run's objects, and unique per data dir, so clusters never collide.
/// </summary>
internal static class ClusterId
{
    public const int Length = 6;
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

    public static string LoadOrCreate(string dataDir)
    {
        var path = Path.Combine(dataDir, "cluster-id");
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (IsValid(existing))
            {
                return existing;
            }
            throw new InvalidDataException($"{path} holds '{existing}', not a {Length}-character id; remove the file to get a new one.");
        }
        Directory.CreateDirectory(dataDir);
        var id = RandomNumberGenerator.GetString(Alphabet, Length);
        File.WriteAllText(path, id + "\n");
        return id;
    }

    public static bool IsValid(string id) => id.Length == Length && id.All(c => Alphabet.Contains(c, StringComparison.Ordinal));
}
