using System.Text;

namespace AttnKit.Catalog;

/// <summary>One record of a CSV text: the line (1-based) on which it starts, and its fields, unquoted.</summary>
public sealed record CsvRecord(int Line, IReadOnlyList<string> Fields);

/// <summary>
/// A reader for comma-separated values as RFC 4180 defines them:
/// 1. records end at a line break (CRLF, LF or CR), except inside a quoted field;
/// 2. fields are separated by commas;
/// 3. a field that starts with a double quote is quoted: it ends at the next lone double quote, may hold commas and
///    line breaks, and writes a double quote as two (<c>""</c>);
/// 4. after a closing quote only a comma, a line break or the end of the text may come;
/// 5. an unquoted field holds no double quote.
/// A byte-order mark at the start is skipped, and so are empty lines (a record with one empty unquoted field);
/// a line break after the last record is optional. Malformed text throws <see cref="ArgumentException"/> naming the line.
/// </summary>
public static class Csv
{
    /// <summary>Reads every record of <paramref name="text"/>; <paramref name="source"/> names the text in error messages (a file name).</summary>
    /// <exception cref="ArgumentException">A quote inside an unquoted field, text after a closing quote, or a quoted field that never ends.</exception>
    public static IReadOnlyList<CsvRecord> Parse(string text, string source = "CSV")
    {
        ArgumentNullException.ThrowIfNull(text);
        var records = new List<CsvRecord>();
        var fields = new List<string>();
        var field = new StringBuilder();
        int i = text.Length > 0 && text[0] == '\uFEFF' ? 1 : 0;
        int line = 1, recordLine = 1;
        bool atFieldStart = true, anyQuoted = false;

        void EndRecord()
        {
            fields.Add(field.ToString());
            field.Clear();
            bool empty = fields.Count == 1 && fields[0].Length == 0 && !anyQuoted;
            if (!empty) records.Add(new CsvRecord(recordLine, fields.ToArray()));
            fields.Clear();
            anyQuoted = false;
            atFieldStart = true;
        }

        while (i < text.Length)
        {
            char c = text[i];
            if (atFieldStart && c == '"')
            {
                int quoteLine = line;
                anyQuoted = true;
                i++;
                while (true)                                                      // 3. inside a quoted field
                {
                    if (i >= text.Length)
                        throw new ArgumentException($"{source}, line {quoteLine}: a quoted field (field {fields.Count + 1}) is never closed by a double quote");
                    char q = text[i];
                    if (q == '"')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                        i++;
                        break;
                    }
                    if (q == '\r' || q == '\n')
                    {
                        if (q == '\r' && i + 1 < text.Length && text[i + 1] == '\n') { field.Append("\r\n"); i += 2; }
                        else { field.Append(q); i++; }
                        line++;
                        continue;
                    }
                    field.Append(q);
                    i++;
                }
                if (i < text.Length && text[i] is not (',' or '\r' or '\n'))     // 4.
                    throw new ArgumentException($"{source}, line {line}: field {fields.Count + 1} has text after its closing double quote ('{text[i]}'); double a quote inside a quoted field");
                atFieldStart = false;
                continue;
            }
            atFieldStart = false;
            switch (c)
            {
                case ',':                                                           // 2.
                    fields.Add(field.ToString());
                    field.Clear();
                    atFieldStart = true;
                    i++;
                    break;
                case '\r' or '\n':                                                  // 1.
                    i += c == '\r' && i + 1 < text.Length && text[i + 1] == '\n' ? 2 : 1;
                    EndRecord();
                    line++;
                    recordLine = line;
                    break;
                case '"':                                                           // 5.
                    throw new ArgumentException($"{source}, line {line}: field {fields.Count + 1} has a double quote but does not start with one; quote the whole field and double the quote");
                default:
                    field.Append(c);
                    i++;
                    break;
            }
        }
        if (!atFieldStart || fields.Count > 0 || field.Length > 0 || anyQuoted) EndRecord();
        return records;
    }

    /// <summary>One field as RFC 4180 writes it: quoted (inner quotes doubled) when it holds a comma, a quote or a line break.</summary>
    public static string Quote(string field)
    {
        ArgumentNullException.ThrowIfNull(field);
        return field.IndexOfAny([',', '"', '\r', '\n']) < 0 ? field : "\"" + field.Replace("\"", "\"\"") + "\"";
    }
}
