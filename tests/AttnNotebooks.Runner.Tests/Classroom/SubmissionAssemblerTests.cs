using System.Text.Json.Nodes;
using AttnNotebooks.Runner.Classroom;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Tests.Classroom;

/// <summary>What the grader runs for a submission: the instructor's cells, with only the student's solution cells put in.</summary>
public class SubmissionAssemblerTests
{
    static Assignment Instructor() => Assignment.Read(Notebook.Load(ClassroomFiles.Assignment));

    [Fact]
    public void Solution_cells_come_from_the_student_and_everything_else_from_the_instructor()
    {
        var submission = ClassroomFiles.StudentVersion();
        ClassroomFiles.Cell(submission, "causal-mask").Source = "Tensor CausalMask(long queries, long keys) => null!; // mine";
        ClassroomFiles.Cell(submission, "attention-check").Source = "// nothing to check here";
        ClassroomFiles.Cell(submission, "attention-check").AddStream("stdout", "fake output");
        var assembled = SubmissionAssembler.Assemble(Instructor(), submission);

        Assert.Equal("Tensor CausalMask(long queries, long keys) => null!; // mine", ClassroomFiles.Cell(assembled.Notebook, "causal-mask").Source);
        var check = ClassroomFiles.Cell(assembled.Notebook, "attention-check");
        Assert.Equal(ClassroomFiles.InstructorSource("attention-check"), check.Source); // hidden tests included
        Assert.Contains("ThrowIfFailed", check.Source);
        Assert.Empty(check.Outputs);
        Assert.Equal(["attention-check"], assembled.EditedLocked);
        Assert.Equal(["locked cell \"attention-check\" was edited; the grader ran the instructor's version"], assembled.Notes);
    }

    [Fact]
    public void Missing_and_added_cells_are_noted()
    {
        var json = JsonNode.Parse(ClassroomFiles.StudentVersion().ToJson())!.AsObject();
        var cells = json["cells"]!.AsArray();
        var attention = cells.Single(c => c!["metadata"]!["nbgrader"]?["grade_id"]?.GetValue<string>() == "attention");
        cells.Remove(attention);
        var setup = cells.Single(c => c!["metadata"]!["nbgrader"]?["grade_id"]?.GetValue<string>() == "setup");
        cells.Remove(setup);
        cells.Add(new JsonObject { ["cell_type"] = "code", ["metadata"] = new JsonObject(), ["outputs"] = new JsonArray(), ["source"] = "File.Delete(\"grades.csv\");" });
        var assembled = SubmissionAssembler.Assemble(Instructor(), Notebook.Parse(json.ToJsonString(), "s.ipynb"));

        Assert.Contains("solution cell \"attention\" is missing from the submission: graded as not answered", assembled.Notes);
        Assert.Contains("locked cell \"setup\" was removed; the grader ran the instructor's version", assembled.Notes);
        Assert.Contains(assembled.Notes, n => n.StartsWith("1 code cell outside the solution cells was added or changed and not run", StringComparison.Ordinal));
        Assert.Contains("throw new NotImplementedException();", ClassroomFiles.Cell(assembled.Notebook, "attention").Source);
        Assert.DoesNotContain(assembled.Notebook.Cells, c => c.Source.Contains("File.Delete", StringComparison.Ordinal));
        Assert.Equal(Instructor().Notebook.Cells.Count, assembled.Notebook.Cells.Count);
    }

    [Fact]
    public void Student_names_come_from_files_or_their_folders()
    {
        Assert.Equal(["ada", "bob"], StudentNames.For(["x/ada.ipynb", "y/bob.ipynb"]));
        Assert.Equal(["ada", "bob"], StudentNames.For(["s/ada/hw.ipynb", "s/bob/hw.ipynb"]));
        Assert.Equal(["hw", "hw-2"], StudentNames.For(["a/hw/hw.ipynb", "b/hw/hw.ipynb"]));
        Assert.Equal(["o_brien_x"], StudentNames.For(["o'brien x.ipynb"]));
    }
}
