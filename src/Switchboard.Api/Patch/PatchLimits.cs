namespace Switchboard.Api.Patch;

/// <summary>Bounds that keep hostile patches from crashing or stalling the server.</summary>
internal static class PatchLimits
{
    /// <summary>
    /// Deepest object/array nesting accepted in a patch, a live object or a result. 64 is System.Text.Json's default
    /// reader limit, so anything a patch produces can be read back by the rest of the server; it also bounds every
    /// recursion in this folder, which is what keeps a deep body from overflowing the stack.
    /// </summary>
    public const int MaxDepth = 64;

    /// <summary>Upstream's maxJSONPatchOperations (handlers/patch.go); more is answered with 413.</summary>
    public const int MaxJsonPatchOperations = 10000;

    /// <summary>
    /// Upstream's JSONPatchMaxCopyBytes default (3 MiB): the total size "copy" operations may add, because copy is the
    /// one operation that can grow a document faster than the request body.
    /// </summary>
    public const long MaxJsonPatchCopyBytes = 3L * 1024 * 1024;

    /// <summary>Longest value rendering put into an error message.</summary>
    public const int MaxMessageValueChars = 512;
}
