using System.Collections;

namespace Switchboard.Proxy.Model;

/// <summary>
/// An immutable array with structural equality, so snapshot records compare by content (upstream
/// compares ServicePort/Endpoint infos with reflect.DeepEqual to decide what changed).
/// </summary>
internal readonly struct ValueArray<T> : IEquatable<ValueArray<T>>, IReadOnlyList<T>
{
    private readonly T[]? _items;

    public ValueArray(T[] items) => _items = items;

    public static ValueArray<T> Empty => default;

    public int Count => _items?.Length ?? 0;

    public bool IsEmpty => Count == 0;

    public T this[int index] => (_items ?? [])[index];

    public ReadOnlySpan<T> AsSpan() => _items;

    public bool Contains(T item)
    {
        if (_items is null)
        {
            return false;
        }

        foreach (var x in _items)
        {
            if (EqualityComparer<T>.Default.Equals(x, item))
            {
                return true;
            }
        }

        return false;
    }

    public bool Equals(ValueArray<T> other) => AsSpan().SequenceEqual(other.AsSpan());

    public override bool Equals(object? obj) => obj is ValueArray<T> other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var x in AsSpan())
        {
            hash.Add(x);
        }

        return hash.ToHashCode();
    }

    public static bool operator ==(ValueArray<T> left, ValueArray<T> right) => left.Equals(right);

    public static bool operator !=(ValueArray<T> left, ValueArray<T> right) => !left.Equals(right);

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)(_items ?? [])).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => "[" + string.Join(", ", _items ?? []) + "]";
}
