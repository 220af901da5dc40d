namespace Switchboard.Api.Selectors;

/// <summary>
/// A label or field selector that upstream would reject. The message is upstream's own text, which
/// kube-apiserver returns verbatim in a 400 BadRequest Status.
/// </summary>
public sealed class SelectorException : FormatException
{
    public SelectorException()
    {
    }

    public SelectorException(string message)
        : base(message)
    {
    }

    public SelectorException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
