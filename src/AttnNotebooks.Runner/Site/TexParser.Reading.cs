namespace AttnNotebooks.Runner.Site;

/// <summary>Reading the TeX source: spaces and comments, commands, raw groups.</summary>
internal sealed partial class TexParser
{
    private void SkipSpaces()
    {
        while (_pos < _s.Length)
        {
            char c = _s[_pos];
            if (char.IsWhiteSpace(c)) _pos++;
            else if (c == '%') { while (_pos < _s.Length && _s[_pos] != '\n') _pos++; }
            else break;
        }
    }

    private char Peek(int offset) => _pos + offset < _s.Length ? _s[_pos + offset] : '\0';

    private bool LookingAt(string text) => string.CompareOrdinal(_s, _pos, text, 0, text.Length) == 0;

    private bool LookingAtCommand(string name) =>
        Peek(0) == '\\' && string.CompareOrdinal(_s, _pos + 1, name, 0, name.Length) == 0 && !char.IsAsciiLetter(Peek(1 + name.Length));

    /// <summary>The name of the command at the cursor (letters, or one other character), without moving.</summary>
    private string PeekCommand()
    {
        int save = _pos;
        var name = ReadCommandName();
        _pos = save;
        return name;
    }

    /// <summary>Reads <c>\name</c> from the cursor (at the backslash) and returns the name; "" at the end of input.</summary>
    private string ReadCommandName()
    {
        _pos++; // backslash
        if (_pos >= _s.Length) return "";
        int start = _pos;
        if (char.IsAsciiLetter(_s[_pos])) while (char.IsAsciiLetter(Peek(0))) _pos++;
        else _pos++;
        return _s[start.._pos];
    }

    /// <summary>The raw text of a braced group (nested braces kept), or of one character or command when there are no braces.</summary>
    private string ReadRawGroup()
    {
        SkipSpaces();
        if (_pos >= _s.Length) return "";
        if (_s[_pos] == '\\') { int start = _pos; ReadCommandName(); return _s[start.._pos]; }
        if (_s[_pos] != '{') return _s[_pos++].ToString();
        int depth = 0, open = _pos;
        for (; _pos < _s.Length; _pos++)
        {
            char c = _s[_pos];
            if (c == '\\') { _pos++; continue; }
            if (c == '{') depth++;
            else if (c == '}' && --depth == 0) { _pos++; return _s[(open + 1)..(_pos - 1)]; }
        }
        return _s[(open + 1)..];
    }

    /// <summary>A colour name or #hex for <c>mathcolor</c>, with anything else removed.</summary>
    private static string Color(string raw) => new(raw.Where(ch => char.IsAsciiLetterOrDigit(ch) || ch == '#').ToArray());
}
