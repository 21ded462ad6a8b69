using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace StreamLstm.Streaming.Hosting;

/// <summary>
/// Validates every options type registered with <c>ValidateOnStart</c> together, before any other hosted service is built.
/// The host builds all hosted services before it runs its own start-up validation, and building them reads options; without
/// this check the first service to read a bad section would report only that section's problems.
/// </summary>
public sealed class OptionsStartupCheck : IHostedService
{
    /// <summary>Runs the start-up validators; throws an <see cref="OptionsValidationException"/> (or an aggregate of them).</summary>
    /// <param name="services">The root provider.</param>
    public OptionsStartupCheck(IServiceProvider services) => services.GetService<IStartupValidator>()?.Validate();

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
