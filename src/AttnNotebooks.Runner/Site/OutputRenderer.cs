using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AttnNotebooks.Runner.Site;

/// <summary>
/// Writes a code cell's nbformat outputs as HTML, in order: streams as <c>&lt;pre class="stream stdout|stderr"&gt;</c>
/// (consecutive ones of the same stream merged, as Jupyter shows them), display data and results by their richest mime
/// type (HTML as it is, so Plotly charts draw; images inline; plain text escaped), and errors with their traceback.
/// </summary>
public static class OutputRenderer
{
    /// <summary>Mime types in the order they are preferred when a bundle has several.</summary>
    public static readonly IReadOnlyList<string> MimePreference =
        ["text/html", "image/svg+xml", "image/png", "image/jpeg", "image/gif", "text/markdown", "text/latex", "application/json", "text/plain"];

    /// <summary>The HTML of all outputs of a cell.</summary>
    public static string Render(JsonArray outputs)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < outputs.Count; i++)
        {
            if (outputs[i] is not JsonObject output) continue;
            var type = output["output_type"]?.GetValue<string>();
            if (type == "stream")
            {
                var name = output["name"]?.GetValue<string>() == "stderr" ? "stderr" : "stdout";
                var text = new StringBuilder(Text(output["text"]));
                while (i + 1 < outputs.Count && outputs[i + 1] is JsonObject next && next["output_type"]?.GetValue<string>() == "stream"
                       && (next["name"]?.GetValue<string>() == "stderr" ? "stderr" : "stdout") == name)
                {
                    text.Append(Text(next["text"]));
                    i++;
                }
                Open(sb, "stream " + name, null);
                sb.Append($"<pre class=\"stream {name}\">").Append(Html.Escape(Html.StripAnsi(text.ToString()))).Append("</pre>");
                Close(sb);
            }
            else if (type is "display_data" or "execute_result")
            {
                int? count = type == "execute_result" && output["execution_count"] is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<int>() : null;
                Open(sb, type == "execute_result" ? "result" : "display", type == "execute_result" ? $"Out[{count?.ToString() ?? " "}]:" : null);
                Bundle(sb, output["data"] as JsonObject, output["metadata"] as JsonObject);
                Close(sb);
            }
            else if (type == "error")
            {
                Open(sb, "error", null);
                Error(sb, output);
                Close(sb);
            }
        }
        return sb.ToString();
    }

    /// <summary>nbformat's multi-line string: a string, or a list of strings to concatenate.</summary>
    public static string Text(JsonNode? node) => node switch
    {
        JsonArray lines => string.Concat(lines.Select(l => l is JsonValue lv && lv.GetValueKind() == JsonValueKind.String ? lv.GetValue<string>() : "")),
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        null => "",
        _ => node.ToJsonString(),
    };

    private static void Open(StringBuilder sb, string kind, string? prompt)
    {
        sb.Append($"<div class=\"output {kind}\"><div class=\"prompt\">");
        if (prompt is not null) sb.Append(Html.Escape(prompt));
        sb.Append("</div><div class=\"output-body\">");
    }

    private static void Close(StringBuilder sb) => sb.Append("</div></div>\n");

    private static void Bundle(StringBuilder sb, JsonObject? data, JsonObject? metadata)
    {
        if (data is null || data.Count == 0) return;
        var mime = MimePreference.FirstOrDefault(data.ContainsKey)
                   ?? data.Select(kv => kv.Key).FirstOrDefault(k => k.StartsWith("text/", StringComparison.Ordinal));
        if (mime is null)
        {
            sb.Append("<p class=\"unsupported\">An output in ").Append(Html.Escape(string.Join(", ", data.Select(kv => kv.Key)))).Append(" (not shown on this page).</p>");
            return;
        }
        var content = mime == "application/json" ? Json(data[mime]) : Text(data[mime]);
        switch (mime)
        {
            case "text/html":
                sb.Append("<div class=\"output-html\">").Append(content).Append("</div>");
                break;
            case "image/svg+xml":
                sb.Append("<div class=\"output-svg\">").Append(content).Append("</div>");
                break;
            case "image/png" or "image/jpeg" or "image/gif":
                sb.Append($"<img class=\"output-image\" alt=\"output image\" src=\"data:{mime};base64,")
                  .Append(string.Concat(content.Where(c => !char.IsWhiteSpace(c)))).Append('"');
                if (metadata?[mime] is JsonObject size)
                {
                    if (size["width"] is JsonValue w && w.GetValueKind() == JsonValueKind.Number) sb.Append($" width=\"{w.GetValue<double>()}\"");
                    if (size["height"] is JsonValue h && h.GetValueKind() == JsonValueKind.Number) sb.Append($" height=\"{h.GetValue<double>()}\"");
                }
                sb.Append('>');
                break;
            case "text/markdown":
                sb.Append("<div class=\"output-markdown\">").Append(MarkdownRenderer.Render(content).Html).Append("</div>");
                break;
            case "text/latex":
                sb.Append("<div class=\"math-block\">").Append(TexToMathML.ToMathElement(StripMathDelimiters(content), display: true)).Append("</div>");
                break;
            default:
                sb.Append("<pre class=\"output-text\">").Append(Html.Escape(Html.StripAnsi(content))).Append("</pre>");
                break;
        }
    }

    private static void Error(StringBuilder sb, JsonObject output)
    {
        var name = Text(output["ename"]);
        var value = Text(output["evalue"]);
        sb.Append("<div class=\"error-block\"><div class=\"error-title\"><span class=\"ename\">").Append(Html.Escape(Html.StripAnsi(name)))
          .Append("</span>: <span class=\"evalue\">").Append(Html.Escape(Html.StripAnsi(value))).Append("</span></div>");
        var traceback = output["traceback"] is JsonArray lines
            ? string.Join("\n", lines.Select(l => l is JsonValue lv && lv.GetValueKind() == JsonValueKind.String ? lv.GetValue<string>().TrimEnd('\n') : ""))
            : "";
        traceback = Html.StripAnsi(traceback).Trim('\n');
        if (traceback.Length > 0) sb.Append("<pre class=\"traceback\">").Append(Html.Escape(traceback)).Append("</pre>");
        sb.Append("</div>");
    }

    private static string Json(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : node?.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) ?? "";

    private static string StripMathDelimiters(string latex)
    {
        var t = latex.Trim();
        foreach (var (open, close) in new[] { ("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$") })
            if (t.Length >= open.Length + close.Length && t.StartsWith(open, StringComparison.Ordinal) && t.EndsWith(close, StringComparison.Ordinal))
                return t[open.Length..^close.Length];
        return t;
    }
}
