namespace Switchboard.Api.Apply;

/// <summary>
/// One field an apply would change that another manager owns: the owner as upstream names it in a conflict
/// (<see cref="Message"/>: <c>conflict with "other" using v1</c>) and the field in upstream's path text
/// (<c>.spec.ports[port=80,protocol="TCP"].targetPort</c>).
/// </summary>
public sealed record ApplyConflict(string Manager, string Operation, string? ApiVersion, string? Subresource, string Field, string Message);

/// <summary>
/// A server-side apply that would change fields other managers own, without force. Upstream answers 409 Conflict
/// with <see cref="Exception.Message"/> as the Status message and one <c>FieldManagerConflict</c> cause per conflict.
/// </summary>
public sealed class ApplyConflictException : Exception
{
    public ApplyConflictException()
        : this("Apply failed")
    {
    }

    public ApplyConflictException(string message)
        : base(message)
    {
        Conflicts = [];
    }

    public ApplyConflictException(string message, Exception innerException)
        : base(message, innerException)
    {
        Conflicts = [];
    }

    public ApplyConflictException(IReadOnlyList<ApplyConflict> conflicts)
        : base(MessageOf(conflicts))
    {
        Conflicts = conflicts;
    }

    public IReadOnlyList<ApplyConflict> Conflicts { get; }

    /// <summary>Upstream's getConflictMessage: one line for one conflict, else per manager a header and "- path" lines.</summary>
    private static string MessageOf(IReadOnlyList<ApplyConflict> conflicts)
    {
        ArgumentNullException.ThrowIfNull(conflicts);
        if (conflicts.Count == 1)
        {
            return $"Apply failed with 1 conflict: {conflicts[0].Message}: {conflicts[0].Field}";
        }
        var lines = new List<string>();
        foreach (var group in conflicts.GroupBy(c => c.Message))
        {
            lines.Add("conflicts with " + group.Key["conflict with ".Length..] + ":");
            lines.AddRange(group.Select(c => "- " + c.Field));
        }
        return $"Apply failed with {conflicts.Count} conflicts: {string.Join("\n", lines)}";
    }
}

/// <summary>
/// An apply request upstream refuses before merging: wrong apiVersion/kind, <c>metadata.managedFields</c> in the body
/// (400 BadRequest), or a configuration that does not fit the schema (upstream's 500 with an empty reason).
/// </summary>
public sealed class ApplyRequestException : Exception
{
    public ApplyRequestException()
        : this("invalid apply request")
    {
    }

    public ApplyRequestException(string message)
        : this(400, "BadRequest", message)
    {
    }

    public ApplyRequestException(string message, Exception innerException)
        : base(message, innerException)
    {
        StatusCode = 400;
        Reason = "BadRequest";
    }

    public ApplyRequestException(int statusCode, string reason, string message)
        : base(message)
    {
        StatusCode = statusCode;
        Reason = reason;
    }

    public int StatusCode { get; }

    public string Reason { get; }
}
