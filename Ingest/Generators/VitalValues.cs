namespace StreamLstm.Ingest.Generators;

/// <summary>One vitals reading; <see cref="double.NaN"/> marks a missing value (missing values are normal).</summary>
public struct VitalValues
{
    /// <summary>Heart rate, beats/min.</summary>
    public double Hr;

    /// <summary>Oxygen saturation, %.</summary>
    public double Spo2;

    /// <summary>Respiratory rate, breaths/min.</summary>
    public double RespRate;

    /// <summary>Systolic blood pressure, mmHg.</summary>
    public double Sbp;

    /// <summary>Diastolic blood pressure, mmHg.</summary>
    public double Dbp;

    /// <summary>Mean arterial pressure, mmHg.</summary>
    public double Map;

    /// <summary>Body temperature, °C.</summary>
    public double Temp;

    /// <summary>All values missing.</summary>
    public static VitalValues Missing => new()
    {
        Hr = double.NaN, Spo2 = double.NaN, RespRate = double.NaN, Sbp = double.NaN, Dbp = double.NaN, Map = double.NaN, Temp = double.NaN,
    };

    /// <summary>Number of values present.</summary>
    public readonly int PresentCount =>
        P(Hr) + P(Spo2) + P(RespRate) + P(Sbp) + P(Dbp) + P(Map) + P(Temp);

    private static int P(double v) => double.IsNaN(v) ? 0 : 1;
}
