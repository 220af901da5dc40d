namespace Switchboard.Api.Patch;

/// <summary>
/// The field paths <see cref="IPatchMeta"/> is asked about: JSON field names joined by dots, with <c>[]</c> after a
/// list field for "any element" (<c>spec.template.spec.containers[].env</c>). Built here and only here, so the
/// strategic-merge walk and, later, server-side apply address fields the same way.
/// </summary>
internal static class PatchPath
{
    public const string ItemsSuffix = "[]";

    public static string Field(string parent, string field) => parent.Length == 0 ? field : parent + "." + field;

    public static string Items(string listPath) => listPath + ItemsSuffix;

    /// <summary>Splits a path into (field name, number of <c>[]</c> after it) steps.</summary>
    public static IEnumerable<(string Field, int ItemLevels)> Steps(string path)
    {
        if (path.Length == 0)
        {
            yield break;
        }
        foreach (var segment in path.Split('.'))
        {
            var name = segment;
            var levels = 0;
            while (name.EndsWith(ItemsSuffix, StringComparison.Ordinal))
            {
                name = name[..^ItemsSuffix.Length];
                levels++;
            }
            yield return (name, levels);
        }
    }
}
