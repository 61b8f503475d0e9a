using AttnKit.Core;
using AttnKit.Models.Training;
using AttnKit.Tasks;

namespace AttnKit.Tests.Models;

public class TrainingRecipeTests
{
    [Theory]
    [InlineData(SizeProfile.Quick, 64)]
    [InlineData(SizeProfile.Full, 256)]
    public void Recipes_fit_their_model_to_their_tasks(SizeProfile profile, int tokens)
    {
        foreach (var recipe in new[] { TrainingRecipes.Mqar(profile), TrainingRecipes.Passkey(profile) })
        {
            recipe.Options.Validate();
            recipe.Model.Validate();
            Assert.Equal(recipe.Task.VocabSize, recipe.Model.VocabSize);
            Assert.Equal(recipe.TargetTask.VocabSize, recipe.Model.VocabSize);
            Assert.Equal(tokens, recipe.Task.SequenceLength);
            Assert.Equal(tokens, recipe.TargetTask.SequenceLength);
        }
        var passkey = Assert.IsType<PasskeyRetrieval>(TrainingRecipes.Passkey(profile).TargetTask);
        Assert.Null(passkey.Depth);                                                           // the key at a random depth
    }
}
