using System.Security.Cryptography;
using System.Text;

namespace Switchboard.Node.Runtime;

/// <summary>Names of a Pod's kernel objects and files (ARCHITECTURE.md §2 "Pod sandbox"). Pure.</summary>
internal static class PodNames
{
    private const string Alphabet = "0123456789abcdefghijklmnopqrstuv";

    /// <summary><c>&lt;prefix&gt;-p&lt;hash&gt;</c>: a short stable hash of the Pod UID, the whole name at most 15 characters.</summary>
    public static string Netns(string prefix, string podUid)
    {
        var length = Math.Max(4, 15 - prefix.Length - 2);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(podUid));
        var sb = new StringBuilder(prefix.Length + 2 + length).Append(prefix).Append("-p");
        // 5 bits per character (base 32): 4 characters already give a million names per node.
        ulong bits = BitConverter.ToUInt64(hash, 0);
        for (var i = 0; i < length; i++)
        {
            sb.Append(Alphabet[(int)(bits & 31)]);
            bits >>= 5;
        }
        return sb.ToString();
    }

    /// <summary><c>&lt;ns&gt;_&lt;name&gt;_&lt;uid&gt;</c> under the pods dir, as kubelet's log directory.</summary>
    public static string PodDir(string podsDir, string ns, string name, string uid) => Path.Combine(podsDir, ns + "_" + name + "_" + uid);

    public static string LogPath(string podDir, string container, int restartCount) =>
        Path.Combine(podDir, container, restartCount.ToString(System.Globalization.CultureInfo.InvariantCulture) + ".log");

    /// <summary>Parses a pod dir name back into (namespace, name, uid); null for anything else.</summary>
    public static (string Namespace, string Name, string Uid)? ParsePodDir(string dirName)
    {
        // Namespaces and names are DNS labels/subdomains (no '_'), so the split is unambiguous.
        var parts = dirName.Split('_');
        return parts.Length == 3 && parts.All(p => p.Length > 0) ? (parts[0], parts[1], parts[2]) : null;
    }
}
