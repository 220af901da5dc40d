namespace Switchboard.Api.Serialization;

/// <summary>
/// A YAML (or JSON) document that cannot be converted. The HTTP layer answers it with a 400 Status
/// carrying <see cref="Exception.Message"/>, which names the line and column when they are known.
/// </summary>
public sealed class YamlJsonException : FormatException
{
    public YamlJsonException()
    {
    }

    public YamlJsonException(string message)
        : base(message)
    {
    }

    public YamlJsonException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal YamlJsonException(string message, long line, long column, Exception? innerException = null)
        : base(message, innerException)
    {
        Line = line;
        Column = column;
    }

    /// <summary>1-based line of the offending input, 0 when unknown.</summary>
    public long Line { get; }

    /// <summary>1-based column of the offending input, 0 when unknown.</summary>
    public long Column { get; }
}
