using System.Collections.Immutable;
using Switchboard.Api.Validation;

namespace Switchboard.Api.Selectors;

/// <summary>
/// A transcription of upstream's label selector lexer and recursive-descent parser
/// (k8s.io/apimachinery/pkg/labels/selector.go), kept token for token so that odd inputs
/// ("x in (,a)", "in in (in)", "a=") parse, and fail, with upstream's exact messages.
/// </summary>
internal sealed class LabelSelectorParser
{
    private readonly string _input;
    private readonly List<(Token Token, string Literal)> _items = [];
    private int _lexPos;
    private int _position;

    public LabelSelectorParser(string input)
    {
        _input = input;
    }

    private enum Token
    {
        Error,
        EndOfString,
        ClosedPar,
        Comma,
        DoesNotExist,
        DoubleEquals,
        Equals,
        GreaterThan,
        Identifier,
        In,
        LessThan,
        NotEquals,
        NotIn,
        OpenPar,
    }

    // In the Values context "in" and "notin" are plain identifiers: "x in (in)".
    private enum Context
    {
        KeyAndOperator,
        Values,
    }

    public List<LabelSelectorRequirement> Parse()
    {
        Scan();
        var requirements = new List<LabelSelectorRequirement>();
        while (true)
        {
            var (tok, lit) = Lookahead(Context.Values);
            switch (tok)
            {
                case Token.Identifier or Token.DoesNotExist:
                    LabelSelectorRequirement r;
                    try
                    {
                        r = ParseRequirement();
                    }
                    catch (SelectorException e)
                    {
                        throw new SelectorException("unable to parse requirement: " + e.Message, e);
                    }
                    requirements.Add(r);
                    var (t, l) = Consume(Context.Values);
                    switch (t)
                    {
                        case Token.EndOfString:
                            return requirements;
                        case Token.Comma:
                            var (t2, l2) = Lookahead(Context.Values);
                            if (t2 is not Token.Identifier and not Token.DoesNotExist)
                            {
                                throw new SelectorException($"found '{l2}', expected: identifier after ','");
                            }
                            break;
                        default:
                            throw new SelectorException($"found '{l}', expected: ',' or 'end of string'");
                    }
                    break;
                case Token.EndOfString:
                    return requirements;
                default:
                    throw new SelectorException($"found '{lit}', expected: !, identifier, or 'end of string'");
            }
        }
    }

    private LabelSelectorRequirement ParseRequirement()
    {
        var (key, op) = ParseKeyAndInferOperator();
        if (op is LabelSelectorOperator.Exists or LabelSelectorOperator.DoesNotExist)
        {
            return NewRequirement(key, op.Value, []);
        }
        var binary = ParseOperator();
        var values = binary is LabelSelectorOperator.In or LabelSelectorOperator.NotIn ? ParseValues() : ParseExactValue();
        return NewRequirement(key, binary, values);
    }

    private static LabelSelectorRequirement NewRequirement(string key, LabelSelectorOperator op, SortedSet<string> values)
    {
        // sets.String.List(): sorted and unique, which is also the order value errors are indexed in.
        ImmutableArray<string> list = [.. values];
        var errors = LabelSelectorRequirement.Validate(key, op, list);
        if (errors is not null)
        {
            throw new SelectorException(LabelSelectorRequirement.Aggregate(errors));
        }
        return LabelSelectorRequirement.CreateUnchecked(key, op, list);
    }

    private (string Key, LabelSelectorOperator? Op) ParseKeyAndInferOperator()
    {
        LabelSelectorOperator? op = null;
        var (tok, literal) = Consume(Context.Values);
        if (tok == Token.DoesNotExist)
        {
            op = LabelSelectorOperator.DoesNotExist;
            (tok, literal) = Consume(Context.Values);
        }
        if (tok != Token.Identifier)
        {
            throw new SelectorException($"found '{literal}', expected: identifier");
        }
        if (NameValidation.IsQualifiedName(literal) is { Count: > 0 } errs)
        {
            // Upstream validates with a nil *field.Path, which prints as "<nil>".
            throw new SelectorException(FieldError.Invalid("<nil>", literal, string.Join("; ", errs)).ToString());
        }
        var (next, _) = Lookahead(Context.Values);
        if (next is Token.EndOfString or Token.Comma && op != LabelSelectorOperator.DoesNotExist)
        {
            op = LabelSelectorOperator.Exists;
        }
        return (literal, op);
    }

    private LabelSelectorOperator ParseOperator()
    {
        var (tok, lit) = Consume(Context.KeyAndOperator);
        return tok switch
        {
            Token.In => LabelSelectorOperator.In,
            Token.Equals => LabelSelectorOperator.Equals,
            Token.DoubleEquals => LabelSelectorOperator.DoubleEquals,
            Token.GreaterThan => LabelSelectorOperator.GreaterThan,
            Token.LessThan => LabelSelectorOperator.LessThan,
            Token.NotIn => LabelSelectorOperator.NotIn,
            Token.NotEquals => LabelSelectorOperator.NotEquals,
            _ => throw new SelectorException($"found '{lit}', expected: in, notin, =, ==, !=, gt, lt"),
        };
    }

    private SortedSet<string> ParseValues()
    {
        var (tok, lit) = Consume(Context.Values);
        if (tok != Token.OpenPar)
        {
            throw new SelectorException($"found '{lit}' expected: '('");
        }
        (tok, lit) = Lookahead(Context.Values);
        switch (tok)
        {
            case Token.Identifier or Token.Comma:
                var set = ParseIdentifiersList();
                if (Consume(Context.Values).Token != Token.ClosedPar)
                {
                    // Upstream reports the literal it looked at before the list, not the offending one.
                    throw new SelectorException($"found '{lit}', expected: ')'");
                }
                return set;
            case Token.ClosedPar:
                Consume(Context.Values);
                return new SortedSet<string>(StringComparer.Ordinal) { "" };
            default:
                throw new SelectorException($"found '{lit}', expected: ',', ')' or identifier");
        }
    }

    private SortedSet<string> ParseIdentifiersList()
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        while (true)
        {
            var (tok, lit) = Consume(Context.Values);
            switch (tok)
            {
                case Token.Identifier:
                    set.Add(lit);
                    var (tok2, lit2) = Lookahead(Context.Values);
                    switch (tok2)
                    {
                        case Token.Comma:
                            continue;
                        case Token.ClosedPar:
                            return set;
                        default:
                            throw new SelectorException($"found '{lit2}', expected: ',' or ')'");
                    }
                case Token.Comma:
                    if (set.Count == 0)
                    {
                        set.Add(""); // "(,"
                    }
                    var (next, _) = Lookahead(Context.Values);
                    if (next == Token.ClosedPar)
                    {
                        set.Add(""); // ",)"
                        return set;
                    }
                    if (next == Token.Comma)
                    {
                        set.Add(""); // ",,"
                    }
                    break;
                default:
                    throw new SelectorException($"found '{lit}', expected: ',', or identifier");
            }
        }
    }

    private SortedSet<string> ParseExactValue()
    {
        var set = new SortedSet<string>(StringComparer.Ordinal);
        var (tok, _) = Lookahead(Context.Values);
        if (tok is Token.EndOfString or Token.Comma)
        {
            set.Add("");
            return set;
        }
        (tok, var lit) = Consume(Context.Values);
        if (tok == Token.Identifier)
        {
            set.Add(lit);
            return set;
        }
        throw new SelectorException($"found '{lit}', expected: identifier");
    }

    private (Token Token, string Literal) Lookahead(Context context) => Adjust(_items[_position], context);

    private (Token Token, string Literal) Consume(Context context) => Adjust(_items[_position++], context);

    private static (Token Token, string Literal) Adjust((Token Token, string Literal) item, Context context) =>
        context == Context.Values && item.Token is Token.In or Token.NotIn ? (Token.Identifier, item.Literal) : item;

    private void Scan()
    {
        while (true)
        {
            var item = Lex();
            _items.Add(item);
            if (item.Token == Token.EndOfString)
            {
                return;
            }
        }
    }

    private (Token Token, string Literal) Lex()
    {
        var ch = Read();
        while (IsWhitespace(ch))
        {
            ch = Read();
        }
        if (ch == '\0')
        {
            return (Token.EndOfString, "");
        }
        _lexPos--;
        return IsSpecialSymbol(ch) ? ScanSpecialSymbol() : ScanIdOrKeyword();
    }

    private (Token, string) ScanIdOrKeyword()
    {
        var start = _lexPos;
        while (true)
        {
            var ch = Read();
            if (ch == '\0')
            {
                break;
            }
            if (IsSpecialSymbol(ch) || IsWhitespace(ch))
            {
                _lexPos--;
                break;
            }
        }
        var s = _input[start.._lexPos];
        return s switch
        {
            "in" => (Token.In, s),
            "notin" => (Token.NotIn, s),
            _ => (Token.Identifier, s),
        };
    }

    private (Token, string) ScanSpecialSymbol()
    {
        var start = _lexPos;
        var last = (Token: Token.Error, Literal: "");
        while (true)
        {
            var ch = Read();
            if (ch == '\0')
            {
                break;
            }
            if (!IsSpecialSymbol(ch))
            {
                _lexPos--;
                break;
            }
            var buffer = _input[start.._lexPos];
            if (SymbolToken(buffer) is { } token)
            {
                last = (token, buffer);
            }
            else if (last.Token != Token.Error)
            {
                _lexPos--;
                break;
            }
        }
        return last.Token == Token.Error
            ? (Token.Error, $"error expected: keyword found '{_input[start.._lexPos]}'")
            : last;
    }

    private static Token? SymbolToken(string s) => s switch
    {
        ")" => Token.ClosedPar,
        "," => Token.Comma,
        "!" => Token.DoesNotExist,
        "==" => Token.DoubleEquals,
        "=" => Token.Equals,
        ">" => Token.GreaterThan,
        "<" => Token.LessThan,
        "!=" => Token.NotEquals,
        "(" => Token.OpenPar,
        _ => null,
    };

    // Upstream reads bytes and treats 0 as the end of input; an embedded NUL ends the input here too.
    private char Read() => _lexPos < _input.Length && _input[_lexPos] != '\0' ? _input[_lexPos++] : '\0';

    private static bool IsWhitespace(char ch) => ch is ' ' or '\t' or '\r' or '\n';

    private static bool IsSpecialSymbol(char ch) => ch is '=' or '!' or '(' or ')' or ',' or '>' or '<';
}
