using System.Text;
using AttnNotebooks.Runner.Execution;
using AttnNotebooks.Runner.Notebooks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace AttnNotebooks.Runner.Export;

/// <summary>
/// Turns a notebook into a C# file-based app (<c>dotnet run notebook.cs</c>), Microsoft's recommended path for C#
/// after Polyglot Notebooks:
/// 1. <c>#r "nuget: Id, Version"</c> becomes <c>#:package Id@Version</c>, and a <c>#r</c> of the kit's assembly becomes
///    <c>#:project</c> on the kit's project;
/// 2. markdown cells become comments, so the app still reads as the notebook's walk-through;
/// 3. every cell's <c>using</c> directives move to the top of the file and its type declarations to the end, as C# requires;
/// 4. a cell's trailing expression (its displayed value) becomes <c>display(...)</c>;
/// 5. <c>display</c> prints through the kit's plain-text formatters and saves charts as HTML pages beside the app;
/// 6. the app runs in the notebook's own folder, so relative paths mean what they meant in the notebook.
/// </summary>
public static class FileBasedApp
{
    /// <summary>
    /// The app's source for <paramref name="notebook"/> read from <paramref name="notebookPath"/>, to be saved at
    /// <paramref name="appPath"/>; <paramref name="kitProject"/> is the kit's .csproj.
    /// </summary>
    /// <exception cref="DirectiveException">A cell uses a directive the app cannot express.</exception>
    public static string Convert(Notebook notebook, string notebookPath, string appPath, string kitProject)
    {
        var appDir = Path.GetDirectoryName(Path.GetFullPath(appPath))!;
        var name = Path.GetFileNameWithoutExtension(notebookPath);
        var packages = new List<string>();
        bool usesKit = false;
        var usings = new List<string>();
        var statements = new StringBuilder();
        var types = new StringBuilder();
        var parse = new CSharpParseOptions(LanguageVersion.Latest, kind: SourceCodeKind.Script);

        foreach (var cell in notebook.Cells)
        {
            if (cell.CellType == "markdown" || cell.Kernel == "markdown")
            {
                statements.Append(string.Concat(cell.Source.Split('\n').Select(l => ("// " + l).TrimEnd() + "\n"))).Append('\n');
                continue;
            }
            if (cell.CellType != "code") continue;
            if (cell.Kernel != "csharp") throw new DirectiveException($"cell {cell.Number} is in the '{cell.Kernel}' kernel; only C# cells can be exported", 1);
            CellPlan plan;
            try { plan = CellDirectives.Plan(cell.Source); }
            catch (DirectiveException e) { throw new DirectiveException($"cell {cell.Number}: {e.Message}", e.Line); }
            if (plan.IsMarkdown) continue;
            foreach (var p in plan.Packages)
                if (p.Id.StartsWith("TorchSharp", StringComparison.Ordinal) || p.Id is "Plotly.NET" or "Plotly.NET.CSharp" or "Microsoft.Data.Analysis" or "Microsoft.DotNet.Interactive.Formatting")
                    packages.Add($"#:package {p.Id}@{p.Version}");
            usesKit |= plan.OwnAssemblies.Count > 0;

            var root = (CompilationUnitSyntax)CSharpSyntaxTree.ParseText(plan.Code, parse).GetRoot();
            var roslynDirectives = root.GetLeadingTrivia().Concat(root.DescendantTrivia())
                .Where(t => t.IsKind(SyntaxKind.ReferenceDirectiveTrivia) || t.IsKind(SyntaxKind.LoadDirectiveTrivia)).ToList();
            if (roslynDirectives.Count > 0)
                throw new DirectiveException($"cell {cell.Number}: #r \"file\" and #load have no file-based app equivalent; reference a project or package instead", 1);
            usings.AddRange(root.Usings.Select(u => u.WithoutTrivia().ToFullString()));
            statements.Append($"// ---- cell {cell.Number}\n");
            var members = root.Members.ToList();
            for (int i = 0; i < members.Count; i++)
            {
                var member = members[i];
                if (member is BaseTypeDeclarationSyntax or DelegateDeclarationSyntax)
                {
                    types.Append(member.ToFullString().Trim()).Append("\n\n");
                    continue;
                }
                if (i == members.Count - 1 && member is GlobalStatementSyntax { Statement: ExpressionStatementSyntax { SemicolonToken.IsMissing: true } last })
                {
                    statements.Append(last.GetLeadingTrivia().ToFullString().TrimStart('\n'));
                    statements.Append("display(").Append(last.Expression.WithoutTrivia().ToFullString()).Append(");\n");
                    continue;
                }
                statements.Append(member.ToFullString().TrimStart('\n').TrimEnd()).Append('\n');
            }
            statements.Append('\n');
        }

        var sb = new StringBuilder();
        sb.Append($"// {name}: exported from {Path.GetFileName(notebookPath)} by the AttnNotebooks runner. Run it with: dotnet run {Path.GetFileName(appPath)}\n");
        foreach (var p in packages.Distinct()) sb.Append(p).Append('\n');
        if (usesKit) sb.Append("#:project ").Append(Relative(appDir, kitProject)).Append('\n');
        sb.Append("#:property PublishAot=false\n\n");
        foreach (var u in NotebookExecutor.DefaultImports.Select(i => $"using {i};").Concat(usings).Distinct()) sb.Append(u).Append('\n');
        sb.Append('\n');
        var notebookDir = Relative(appDir, Path.GetDirectoryName(Path.GetFullPath(notebookPath))!);
        sb.Append("// Run in the notebook's folder, as the notebook did.\n");
        sb.Append($"var __appDir = AppContext.GetData(\"EntryPointFileDirectoryPath\") as string ?? Environment.CurrentDirectory;\n");
        sb.Append($"Directory.SetCurrentDirectory(Path.GetFullPath(Path.Combine(__appDir, {Literal(notebookDir)})));\n");
        sb.Append(usesKit
            ? $"var __display = new AttnKit.Notebook.ConsoleDisplay(Path.Combine(__appDir, {Literal(name + "-charts")}), {Literal(name)});\nAttnKit.Notebook.ConsoleDisplay.Shown display(object? value) => __display.Show(value);\n\n"
            : "void display(object? value) => Console.WriteLine(value);\n\n");
        sb.Append(statements);
        if (types.Length > 0) sb.Append(types);
        return sb.ToString();
    }

    private static string Relative(string from, string to) => Path.GetRelativePath(from, to).Replace('\\', '/');

    private static string Literal(string s) => SymbolDisplay.FormatLiteral(s, quote: true);
}
